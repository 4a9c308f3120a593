import { createHash } from 'node:crypto';
import { closeSync, constants, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { type FileHandle, open } from 'node:fs/promises';
import { StudioError } from '@studio-lite/functions/contract';
import { defaultPoolSize, HashPool } from './hash-pool.ts';

export const HASH_BUFFER_SIZE = 1 << 20;

/**
 * Files up to this size are hashed with sync calls: for small files the five thread-pool round trips of the async
 * path (open, fstat, read, fstat, close) cost several times the hashing itself.
 */
export const SYNC_HASH_MAX = 256 * 1024;

/**
 * Files from this size on are hashed by the worker threads of the hash pool (hashFileInPool), so their sha256 and md5
 * work runs beside the main thread, which walks, plans and uploads. Below it the hashing costs less than the round
 * trip to a thread and the pool's start; a capture of only small files starts no thread.
 */
export const POOL_HASH_MIN = 8 << 20;

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
    assertRegular(abs, before.isFile());
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

let pool: HashPool | null = null;

/** The process's hash pool, made at the first large file (making it starts no thread; hashing does). */
export function hashPool(): HashPool {
  pool ??= createHashPool(defaultPoolSize());
  return pool;
}

/** A pool of `size` threads that open files as hashFile does; `gate` is for tests (see hash-worker.ts). */
export function createHashPool(size: number, gate?: SharedArrayBuffer): HashPool {
  return new HashPool(size, { openFlags: OPEN_FLAGS, bufferSize: HASH_BUFFER_SIZE, ...(gate ? { gate } : {}) });
}

/**
 * Same contract as hashFile (result, E_CONFLICT when the file is not regular or changed while read, fs errors with
 * their code), with the reads and the hashing in a worker thread of `into` (default: the process's pool).
 */
export async function hashFileInPool(abs: string, withMd5 = false, into: HashPool = hashPool()): Promise<HashedFile> {
  const r = await into.hash(abs, withMd5);
  if ('error' in r) {
    // Rebuilt with the fields callers read (code above all: ENOENT, EACCES, ELOOP), as fs/promises would throw it.
    const { message, ...fields } = r.error;
    const defined = Object.entries(fields).filter(([, v]) => v !== undefined);
    throw Object.assign(new Error(message), Object.fromEntries(defined));
  }
  // The worker reads nothing from a file that is not regular, and says so by sending no `after`.
  if (r.after === undefined) throw notRegular(abs);
  const h = finish(abs, r.sha256, r.total, r.before, r.after);
  return r.md5 === undefined ? h : { ...h, md5: r.md5 };
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
    assertRegular(abs, before.isFile());
    const hash = createHash('sha256');
    const md5 = withMd5 ? createHash('md5') : null;
    let total = 0;
    // A file that fits is read into `buf` from its start, back to back (its bytes can be kept from there);
    // a larger one goes through `buf` chunk by chunk.
    const fits = before.size <= buf.length;
    while (total < before.size) {
      const at = fits ? total : 0;
      const bytesRead = readSync(fd, buf, at, Math.min(buf.length - at, before.size - total), total);
      if (bytesRead === 0) break;
      hash.update(buf.subarray(at, at + bytesRead));
      md5?.update(buf.subarray(at, at + bytesRead));
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

function assertRegular(abs: string, regular: boolean): void {
  if (!regular) throw notRegular(abs);
}

function notRegular(abs: string): StudioError {
  return new StudioError('E_CONFLICT', `${abs} is no longer a regular file`, {
    details: { path: abs, reason: 'not-regular' },
  });
}

type StatFields = Pick<Stats, 'size' | 'mode' | 'mtimeMs' | 'ctimeMs' | 'ino' | 'dev'>;

function finish(abs: string, sha256: string, total: number, before: StatFields, after: StatFields): HashedFile {
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
