import {
  closeSync,
  constants,
  type Dirent,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  realpathSync,
  rmdirSync,
  type Stats,
  unlinkSync,
  writeSync,
} from 'node:fs';
import * as path from 'node:path';
import { type FileEntry, type Manifest, manifestTotals, StudioError } from '@studio-lite/functions/contract';
import type { ApiClient } from '../../api-client.ts';
import type { BlobCache } from '../../cache/blob-cache.ts';
import { insidePath } from '../../cache/link-safety.ts';
import { materialize } from '../../cache/materialize.ts';
import { tamperedWarning, verifyEntries } from '../../cache/verify-entries.ts';
import { hashFile } from '../../capture/hash.ts';
import { tightenTree } from '../../home/private-files.ts';
import type { Logger } from '../../logger.ts';
import { type ArtifactVersionRef, downloadToCache } from '../../transfer/download.ts';

/** What a subfolder holds after a layout, by manifest path: lets the next layout skip files that did not change. */
export type LaidState = Map<string, { sha256: string; mode: number; size: number }>;

export interface SyncResult {
  files: number;
  bytes: number;
  downloadedBlobs: number;
  downloadedBytes: number;
  /** Files that existed with other content and were updated in place (same inode: readers keep their handle). */
  updated: number;
  /** Files and links that the version no longer has, removed. */
  removed: number;
  state: LaidState;
}

export interface SyncOptions {
  client: Pick<ApiClient, 'signDownloads'>;
  cache: BlobCache;
  ref: ArtifactVersionRef;
  manifest: Manifest;
  /** The experiment's subfolder of the logdir. */
  dir: string;
  /** What the previous layout of this process left there; null: unknown (compared by content). */
  known: LaidState | null;
  /** Under $STUDIOML_HOME: files lose their group/other bits and folders are made 0700 (docs/security.md). */
  private: boolean;
  log: Logger;
  signal?: AbortSignal;
  onProgress?: (bytes: number) => void;
}

const CHUNK = 1 << 20;

/**
 * Makes `dir` hold exactly the files and links of one version, through the verified blob cache: copies, never hard
 * links (TensorBoard only reads, but the user may delete or edit the logdir). A file that already holds the
 * version's content is left alone; one that exists with other content is rewritten **in place**, only where its
 * bytes differ (an event file that grew gets its new tail appended), so a TensorBoard that has it open reads on from
 * where it was instead of holding a replaced inode; new files are laid out by `materialize`; files and links the
 * version does not have are removed, and folders left empty.
 */
export async function syncVersion(o: SyncOptions): Promise<SyncResult> {
  const mask = o.private ? 0o700 : 0o777;
  const manifest: Manifest = { ...o.manifest, files: o.manifest.files.map((f) => ({ ...f, mode: f.mode & mask })) };
  mkdirSync(o.dir, { recursive: true, mode: 0o700 });
  const root = realpathSync(o.dir);
  const result: SyncResult = {
    ...manifestTotals(manifest),
    downloadedBlobs: 0,
    downloadedBytes: 0,
    updated: 0,
    removed: 0,
    state: new Map(manifest.files.map((f) => [f.path, { sha256: f.sha256, mode: f.mode, size: f.size }])),
  };
  let removed = false;
  // A cache entry found tampered with is quarantined and reported missing: one more round downloads it again.
  for (let round = 0; round < 2; round += 1) {
    const dl = await downloadToCache(o.client, o.ref, manifest, o.cache, {
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.onProgress ? { onProgress: o.onProgress } : {}),
    });
    result.downloadedBlobs += dl.downloadedBlobs;
    result.downloadedBytes += dl.downloadedBytes;
    // Only once every blob is here: a download that fails leaves the folder as it was.
    if (!removed) {
      result.removed = removeOthers(root, manifest);
      removed = true;
    }
    const keep = new Set<string>();
    const stale: { f: FileEntry; abs: string }[] = [];
    for (const f of manifest.files) {
      const abs = insidePath(root, f.path);
      const st = abs === null ? null : lstatOrNull(abs);
      // Absent, not a regular file, or reached through a link: materialize decides (and warns).
      if (abs === null || st === null || !st.isFile() || realpathOrNull(abs) !== abs) continue;
      if (await holds(abs, st, f, o.known?.get(f.path))) keep.add(f.path);
      else stale.push({ f, abs });
    }
    const checked = await verifyEntries(o.cache, new Map(stale.map(({ f }) => [f.sha256, f.size])));
    if (checked.quarantined.length > 0) o.log.warn(tamperedWarning(o.cache, checked.quarantined));
    for (const { f, abs } of stale) {
      if (!checked.usable.has(f.sha256)) continue;
      rewriteInPlace(f, o.cache.path(f.sha256), abs);
      keep.add(f.path);
      result.updated += 1;
    }
    const m = await materialize(manifest, o.cache, root, { mode: 'copy', keep, warn: (w) => o.log.warn(w) });
    if (m.missing.length === 0 && checked.missing.length === 0) {
      // materialize creates folders under the umask: private again under the home.
      if (o.private) await tightenTree(root);
      return result;
    }
  }
  throw new StudioError(
    'E_HASH_MISMATCH',
    `cache entries for ${o.ref.experiment}/${o.ref.tag} keep failing verification`,
  );
}

/** Whether the file at `abs` already holds `f`: by what this process laid out there, else by its bytes. */
async function holds(
  abs: string,
  st: Stats,
  f: FileEntry,
  laid: { sha256: string; mode: number; size: number } | undefined,
): Promise<boolean> {
  if (st.size !== f.size) return false;
  if (laid !== undefined) return laid.sha256 === f.sha256 && laid.mode === f.mode;
  if ((st.mode & 0o777) !== (f.mode & 0o777)) return false;
  return (await hashFile(abs, Buffer.allocUnsafe(CHUNK)).catch(() => null))?.sha256 === f.sha256;
}

/**
 * Rewrites the regular file `abs` with the verified cache entry `src`, in place (same inode): only chunks whose
 * bytes differ are written, then the file is cut to size and given the version's mode and mtime.
 */
function rewriteInPlace(f: FileEntry, src: string, abs: string): void {
  const to = openSync(abs, constants.O_RDWR | constants.O_NOFOLLOW);
  try {
    const from = openSync(src, 'r');
    try {
      const had = fstatSync(to).size;
      const a = Buffer.allocUnsafe(Math.min(CHUNK, Math.max(f.size, 1)));
      const b = Buffer.allocUnsafe(a.length);
      for (let pos = 0; pos < f.size; ) {
        const n = readFully(from, a, Math.min(a.length, f.size - pos), pos);
        if (n === 0) throw new StudioError('E_HASH_MISMATCH', `cache entry ${src} is shorter than ${f.size} bytes`);
        const same = pos + n <= had && readFully(to, b, n, pos) === n && a.subarray(0, n).equals(b.subarray(0, n));
        for (let w = 0; !same && w < n; ) w += writeSync(to, a, w, n - w, pos + w);
        pos += n;
      }
      if (had > f.size) ftruncateSync(to, f.size);
    } finally {
      closeSync(from);
    }
    // Never setuid/setgid/sticky (as materialize).
    fchmodSync(to, f.mode & 0o777);
    const t = f.mtime / 1000;
    futimesSync(to, t, t);
  } finally {
    closeSync(to);
  }
}

function readFully(fd: number, buf: Buffer, length: number, position: number): number {
  let n = 0;
  for (let r = 1; r > 0 && n < length; n += r) r = readSync(fd, buf, n, length - n, position + n);
  return n;
}

/**
 * Removes every file and link below `root` that is not a path of the manifest (never following a link), then the
 * folders left empty. Returns how many entries went.
 */
function removeOthers(root: string, manifest: Manifest): number {
  const wanted = new Set<string>([...manifest.files.map((f) => f.path), ...manifest.links.map((l) => l.path)]);
  let removed = 0;
  const walk = (abs: string, rel: string): void => {
    let entries: Dirent[];
    try {
      entries = readdirSync(abs, { withFileTypes: true });
    } catch {
      return;
    }
    for (const e of entries) {
      const r = rel === '' ? e.name : `${rel}/${e.name}`;
      const p = path.join(abs, e.name);
      if (e.isDirectory()) {
        walk(p, r);
        try {
          rmdirSync(p);
        } catch {
          // Not empty: it holds files of the version.
        }
      } else if (!wanted.has(r)) {
        try {
          unlinkSync(p);
          removed += 1;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    }
  };
  walk(root, '');
  return removed;
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

function realpathOrNull(p: string): string | null {
  try {
    return realpathSync(p);
  } catch {
    return null;
  }
}
