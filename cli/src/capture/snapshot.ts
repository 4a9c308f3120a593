import { setTimeout as sleep } from 'node:timers/promises';
import { type FileEntry, isStudioError, type Manifest, sortManifest } from '@studio-lite/functions/contract';
import pLimit from 'p-limit';
import {
  HASH_BUFFER_SIZE,
  type HashedFile,
  hashFile,
  hashFileInPool,
  hashFileSync,
  POOL_HASH_MIN,
  SYNC_HASH_MAX,
} from './hash.ts';
import type { StatCache, StatKey } from './stat-cache.ts';
import { errCode, walkFolder } from './walk.ts';
import type { WalkFile, WalkOptions, WalkResult } from './walk-types.ts';

export interface SnapshotOptions extends WalkOptions {
  /**
   * Files of SYNC_HASH_MAX up to POOL_HASH_MIN hashed in parallel through libuv's thread pool (reads) and the main
   * thread (hashing); default 3. Larger files queue for the hash pool's worker threads (hash-pool.ts).
   */
  concurrency?: number;
  /**
   * A file modified this close to the start of the capture is not remembered in the stat cache: a second write in
   * the same timestamp tick would leave its stat unchanged ("racily clean", as git calls it). Default 2000 ms,
   * enough for file systems with 1–2 s mtime granularity.
   */
  racyWindowMs?: number;
  /**
   * Keep the bytes of small files read while hashing (up to `budget` bytes in all), so the upload sends exactly the
   * hashed bytes without opening each file again. Halves the file-system calls of a first capture of many small files.
   */
  keepBytes?: { maxFileSize: number; budget: number };
  /** Also compute base64 MD5s of hashed files (for storage that checks them on upload, e.g. GCS). */
  md5?: boolean;
  /** Called after each hashed file with running totals. */
  onProgress?: (p: { hashedFiles: number; hashedBytes: number }) => void;
}

export interface SnapshotResult {
  manifest: Manifest;
  /** Where to read each blob from for upload (first file with that content). */
  sources: Map<string, string>;
  /** Bytes kept by `keepBytes`, by sha256. */
  contents: Map<string, Buffer>;
  /** base64 MD5 by sha256, for files hashed with `md5` (stat-cache hits have none). */
  md5s: Map<string, string>;
  stats: { hashedFiles: number; hashedBytes: number };
  skipped: string[];
}

/** How often a file that keeps changing under us is re-read before it is skipped. */
const CHANGED_ATTEMPTS = 3;

/** Walks `root` and builds its manifest, hashing only files the stat cache does not vouch for. */
export async function snapshot(
  root: string,
  opts: SnapshotOptions,
  statCache: StatCache | null,
): Promise<SnapshotResult> {
  const startedAt = Date.now();
  return snapshotFromWalk(await walkFolder(root, opts), opts, statCache, startedAt);
}

/** The hashing half of snapshot, for a walk already done; `startedAt` is when that walk began (epoch ms). */
/** Small files' kept bytes are read into slabs of this size. */
const SLAB_BYTES = 4 << 20;

export async function snapshotFromWalk(
  walk: WalkResult,
  opts: Omit<SnapshotOptions, keyof WalkOptions>,
  statCache: StatCache | null,
  startedAt: number,
): Promise<SnapshotResult> {
  const racyFrom = startedAt - (opts.racyWindowMs ?? 2000);
  const skipped = [...walk.skipped];
  const keys: StatKey[] = walk.files;
  const cached = statCache?.lookup(keys) ?? [];
  const entries: (FileEntry | null)[] = new Array(walk.files.length).fill(null);
  const toStore: (StatKey & { sha256: string })[] = [];
  const stats = { hashedFiles: 0, hashedBytes: 0 };

  const limit = pLimit(Math.max(1, opts.concurrency ?? 3));
  const freeBufs: Buffer[] = [];
  const syncBuf = Buffer.allocUnsafe(SYNC_HASH_MAX);
  let slab = Buffer.allocUnsafe(0);
  let slabAt = 0;
  const pending: Promise<void>[] = [];
  let sinceYield = 0;
  const contents = new Map<string, Buffer>();
  const md5s = new Map<string, string>();
  let kept = 0;
  const keep = opts.keepBytes;

  const record = (i: number, f: WalkFile, h: HashedFile): void => {
    entries[i] = toEntry(f.path, h.sha256, h);
    if (h.md5) md5s.set(h.sha256, h.md5);
    stats.hashedFiles++;
    stats.hashedBytes += h.bytesRead;
    if (h.mtimeMs < racyFrom)
      toStore.push({
        abs: f.abs,
        size: h.size,
        mtimeMs: h.mtimeMs,
        ctimeMs: h.ctimeMs,
        ino: h.ino,
        dev: h.dev,
        sha256: h.sha256,
      });
    opts.onProgress?.({ ...stats });
  };
  const hashAsync = (i: number, f: WalkFile, attempt: number): Promise<void> =>
    f.size >= POOL_HASH_MIN ? hashInPool(i, f, attempt) : hashHere(i, f, attempt);
  const hashInPool = async (i: number, f: WalkFile, attempt: number): Promise<void> => {
    try {
      record(i, f, await hashFileInPool(f.abs, opts.md5));
    } catch (err) {
      await onHashError(i, f, attempt, err);
    }
  };
  const hashHere = (i: number, f: WalkFile, attempt: number): Promise<void> =>
    limit(async () => {
      const buf = freeBufs.pop() ?? Buffer.allocUnsafe(HASH_BUFFER_SIZE);
      try {
        record(i, f, await hashFile(f.abs, buf, opts.md5));
      } catch (err) {
        await onHashError(i, f, attempt, err);
      } finally {
        freeBufs.push(buf);
      }
    });
  const onHashError = async (i: number, f: WalkFile, attempt: number, err: unknown): Promise<void> => {
    if (isStudioError(err, 'E_CONFLICT') && err.details?.reason === 'changed' && attempt < CHANGED_ATTEMPTS) {
      // Give a writer a moment to finish before reading again.
      await sleep(50 * attempt);
      return hashAsync(i, f, attempt + 1);
    }
    skipped.push(`${f.path}: ${describe(err)}`);
  };

  for (let i = 0; i < walk.files.length; i++) {
    const f = walk.files[i] as WalkFile;
    const sha = cached[i];
    if (sha !== undefined) {
      entries[i] = toEntry(f.path, sha, f);
      continue;
    }
    if (f.size > SYNC_HASH_MAX) {
      pending.push(hashAsync(i, f, 1));
      continue;
    }
    try {
      // A file whose bytes may be kept is read straight into the current slab (no copy afterwards; consecutive
      // files lie back to back there, so an upload batch of them is one view: transfer/file-body.ts).
      const keepable = keep && f.size <= keep.maxFileSize && kept + f.size <= keep.budget;
      if (keepable && slabAt + f.size + 1 > slab.length) {
        slab = Buffer.allocUnsafe(Math.max(SLAB_BYTES, f.size + 1));
        slabAt = 0;
      }
      const h = hashFileSync(f.abs, keepable ? slab.subarray(slabAt, slabAt + f.size + 1) : syncBuf, opts.md5);
      record(i, f, h);
      if (keepable && h.bytesRead <= f.size && !contents.has(h.sha256)) {
        contents.set(h.sha256, slab.subarray(slabAt, slabAt + h.bytesRead));
        slabAt += h.bytesRead;
        kept += h.bytesRead;
      }
    } catch (err) {
      pending.push(onHashError(i, f, 1, err));
    }
    sinceYield += f.size + 4096;
    if (sinceYield > 16 << 20) {
      // Let the async hashes and the rest of the CLI make progress between runs of small files.
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  await Promise.all(pending);

  if (statCache !== null && toStore.length > 0) statCache.store(toStore);

  const files: FileEntry[] = [];
  const sources = new Map<string, string>();
  walk.files.forEach((f, i) => {
    const e = entries[i];
    if (e == null) return;
    files.push(e);
    if (!sources.has(e.sha256)) sources.set(e.sha256, f.abs);
  });
  return { manifest: sortManifest({ files, links: walk.links }), sources, contents, md5s, stats, skipped };
}

function toEntry(path: string, sha256: string, s: { size: number; mode: number; mtimeMs: number }): FileEntry {
  // Clamp: manifests reject negative mtimes, which pre-1970 files do have.
  return { path, size: s.size, sha256, mode: s.mode & 0o7777, mtime: Math.max(0, s.mtimeMs) };
}

function describe(err: unknown): string {
  if (isStudioError(err, 'E_CONFLICT')) {
    return err.details?.reason === 'not-regular' ? 'no longer a regular file' : 'kept changing while being read';
  }
  const code = errCode(err);
  if (code === 'ENOENT') return 'disappeared during capture';
  if (code === 'ELOOP') return 'replaced by a symlink during capture';
  if (code === 'EACCES' || code === 'EPERM') return `permission denied (${code})`;
  return `cannot read (${code})`;
}
