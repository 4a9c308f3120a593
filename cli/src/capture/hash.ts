import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { StudioError } from '@studio-lite/functions/contract';

export const HASH_BUFFER_SIZE = 1 << 20;

/**
 * Files up to this size are hashed with sync calls: for small files the five thread-pool round trips of the async
 * path (open, fstat, read, fstat, close) cost several times the hashing itself.
 */
export const SYNC_HASH_MAX = 256 * 1024;

/** The state of the file the bytes were read from (fstat of the open descriptor, after reading). */
export interface HashedFile {
  sha256: string;
  /** base64 MD5, only when asked for (storage such as GCS can check it on upload). */
  md5?: string;
  bytesRead: number;
  size: number;
  mode: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
}

/**
 * O_NOFOLLOW: a file swapped for a symlink after the walk must not make us read (and upload) what it points to.
 * O_NONBLOCK: a file swapped for a fifo must not block the open forever; regular-file reads ignore it.
 */
const OPEN_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0) | (constants.O_NONBLOCK ?? 0);

/**
 * Streams a file through sha256 with a large buffer. Throws E_CONFLICT when the file changed while it was read
 * (size, mtime or ctime moved, or a different byte count came back) so the caller can retry or skip it; other fs
 * errors (EACCES, ENOENT, ELOOP for a swapped-in symlink) are thrown as they are.
 */
export async function hashFile(
  abs: string,
  buf: Buffer = Buffer.allocUnsafe(HASH_BUFFER_SIZE),
  withMd5 = false,
): Promise<HashedFile> {
  const fh: FileHandle = await open(abs, OPEN_FLAGS);
  try {
    const before = await fh.stat();
    assertRegular(abs, before);
    const hash = createHash('sha256');
    const md5 = withMd5 ? createHash('md5') : null;
    let total = 0;
    // Read exactly the size seen at open: a growing log must not keep us reading forever. Growth shows in `after`.
    while (total < before.size) {
      const want = Math.min(buf.length, before.size - total);
      const { bytesRead } = await fh.read(buf, 0, want, total);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      md5?.update(buf.subarray(0, bytesRead));
      total += bytesRead;
    }
    return withDigest(finish(abs, hash.digest('hex'), total, before, await fh.stat()), md5);
  } finally {
    await fh.close();
  }
}

/** Same contract as hashFile, without the thread pool; only for small files (see SYNC_HASH_MAX). */
export function hashFileSync(
  abs: string,
  buf: Buffer = Buffer.allocUnsafe(HASH_BUFFER_SIZE),
  withMd5 = false,
): HashedFile {
  const fd = openSync(abs, OPEN_FLAGS);
  try {
    const before = fstatSync(fd);
    assertRegular(abs, before);
    const hash = createHash('sha256');
    const md5 = withMd5 ? createHash('md5') : null;
    let total = 0;
    while (total < before.size) {
      const bytesRead = readSync(fd, buf, 0, Math.min(buf.length, before.size - total), total);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(0, bytesRead));
      md5?.update(buf.subarray(0, bytesRead));
      total += bytesRead;
    }
    return withDigest(finish(abs, hash.digest('hex'), total, before, fstatSync(fd)), md5);
  } finally {
    closeSync(fd);
  }
}

function withDigest(h: HashedFile, md5: ReturnType<typeof createHash> | null): HashedFile {
  return md5 ? { ...h, md5: md5.digest('base64') } : h;
}

function assertRegular(abs: string, st: Stats): void {
  if (!st.isFile()) {
    throw new StudioError('E_CONFLICT', `${abs} is no longer a regular file`, {
      details: { path: abs, reason: 'not-regular' },
    });
  }
}

function finish(abs: string, sha256: string, total: number, before: Stats, after: Stats): HashedFile {
  if (
    total !== before.size ||
    after.size !== before.size ||
    after.mtimeMs !== before.mtimeMs ||
    after.ctimeMs !== before.ctimeMs
  ) {
    throw new StudioError('E_CONFLICT', `${abs} changed while it was being read`, {
      details: { path: abs, reason: 'changed', expectedSize: before.size, bytesRead: total, sizeAfter: after.size },
    });
  }
  return {
    sha256,
    bytesRead: total,
    size: after.size,
    mode: after.mode,
    mtimeMs: after.mtimeMs,
    ctimeMs: after.ctimeMs,
    ino: after.ino,
    dev: after.dev,
  };
}
