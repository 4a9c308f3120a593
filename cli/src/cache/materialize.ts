import {
  chmodSync,
  closeSync,
  constants,
  copyFileSync,
  fchmodSync,
  linkSync,
  lstatSync,
  mkdirSync,
  openSync,
  readSync,
  type Stats,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeSync,
} from 'node:fs';
import { mkdir, realpath, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { type FileEntry, type Manifest, quotePath, StudioError } from '@studio-lite/functions/contract';
import type { BlobCache } from './blob-cache.ts';
import { insidePath, linkStaysInside } from './link-safety.ts';
import { tamperedWarning, verifyEntries } from './verify-entries.ts';

export interface MaterializeOptions {
  /**
   * 'copy' (the default) gives the user files of their own: a copy-on-write clone where the file system supports it
   * (btrfs, XFS, APFS...), else a plain copy, with the captured mode. 'link' (opt-in) hard-links cache files: fast and
   * no extra space, but the files are the cache's (read-only, shared mtime) and root can write through them, which
   * the cache notices (recorded stat) and repairs before it hands the entry out again. Executables are always copied,
   * since a shared inode cannot carry the x bit for one artifact only.
   */
  mode: MaterializeMode;
  /** Manifest paths already holding the right content in the destination: left untouched. */
  keep?: ReadonlySet<string>;
  /** Collects `created` as it grows, so that a caller can undo a call that threw half-way. */
  created?: string[];
  /** The destination was created empty for this call: no lstat per file to look for something in the way. */
  fresh?: boolean;
  warn?: (message: string) => void;
}

export type MaterializeMode = 'link' | 'copy';

export interface MaterializeResult {
  linked: number;
  copied: number;
  links: number;
  /** "path: reason" for entries not created. */
  skipped: string[];
  /** Blobs absent from the cache or quarantined because they were tampered with: download them and run again. */
  missing: { sha256: string; size: number }[];
  /** Cache entries found with the wrong bytes (one warning line was given for all of them). */
  quarantined: string[];
  /** Relative paths this call created where nothing was (folders, files, links), in creation order. */
  created: string[];
}

/** Files between two yields to the event loop. */
const YIELD_EVERY = 256;

const LINK_FALLBACK = new Set(['EXDEV', 'EPERM', 'EMLINK', 'ENOTSUP', 'EOPNOTSUPP', 'EACCES']);

/**
 * Recreates a manifest's tree under `destDir` from the blob cache. Files first, symlinks last, so that no link
 * from the artifact can redirect a file write; a link is kept only if it resolves inside `destDir`.
 */
export async function materialize(
  manifest: Manifest,
  cache: BlobCache,
  destDir: string,
  opts: MaterializeOptions,
): Promise<MaterializeResult> {
  const result: MaterializeResult = {
    linked: 0,
    copied: 0,
    links: 0,
    skipped: [],
    missing: [],
    quarantined: [],
    created: opts.created ?? [],
  };
  const skip = (p: string, reason: string): void => {
    result.skipped.push(`${p}: ${reason}`);
    opts.warn?.(`${p}: ${reason}`);
  };
  await mkdir(destDir, { recursive: true });
  const root = await realpath(destDir);
  const dirs = new DirMaker(root, result.created);

  const wanted = new Map(manifest.files.map((f) => [f.sha256, f.size]));
  const checked = await verifyEntries(cache, wanted);
  const usable = checked.usable;
  result.missing.push(...checked.missing);
  result.quarantined.push(...checked.quarantined);
  if (checked.quarantined.length > 0) opts.warn?.(tamperedWarning(cache, checked.quarantined));
  const linkedShas = new Set<string>();

  // Synchronous calls in one loop, like the capture walk: for 20,000 small files, five thread-pool round trips per
  // file cost several times the work itself. The loop yields now and then so progress output keeps moving.
  let n = 0;
  for (const f of manifest.files) {
    if (++n % YIELD_EVERY === 0) await new Promise<void>((resolve) => setImmediate(resolve));
    if (!usable.has(f.sha256) || opts.keep?.has(f.path)) continue;
    const dest = insidePath(root, f.path);
    if (dest === null) {
      skip(f.path, 'path leaves the destination');
      continue;
    }
    try {
      if (!dirs.ensureParent(f.path)) {
        skip(f.path, 'a parent is not a directory');
        continue;
      }
      const existed = opts.fresh ? false : clear(dest);
      if (existed === null) {
        skip(f.path, 'a directory is in the way');
        continue;
      }
      try {
        if (place(f, cache.path(f.sha256), dest, opts.mode, result)) linkedShas.add(f.sha256);
        if (!existed) result.created.push(f.path);
      } catch (err) {
        // Evicted since it was checked (a `cache prune` running meanwhile): download it and run again.
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || isFileOfSize(cache.path(f.sha256), f.size)) throw err;
        if (!result.missing.some((m) => m.sha256 === f.sha256)) result.missing.push({ sha256: f.sha256, size: f.size });
        continue;
      }
      const t = f.mtime / 1000;
      utimesSync(dest, t, t);
    } catch (err) {
      throw pathError(f.path, err);
    }
  }
  // Linking (and utimes through the link) moved the entries' ctime: record the state they were handed out in, so
  // that the next use can tell a write through the link from this.
  await cache.record([...linkedShas].map((sha256) => ({ sha256, expect: { size: wanted.get(sha256) as number } })));

  const created: string[] = [];
  for (const l of manifest.links) {
    const dest = insidePath(root, l.path);
    if (dest === null) {
      skip(l.path, 'path leaves the destination');
      continue;
    }
    // Cheap lexical pre-check; the real check (through other links) runs once every link exists.
    const r = path.relative(root, path.resolve(path.dirname(dest), l.target));
    if (r === '..' || r.startsWith(`..${path.sep}`) || path.isAbsolute(r)) {
      skip(l.path, `symlink target ${l.target} is outside the destination`);
      continue;
    }
    if (opts.keep?.has(l.path)) continue;
    try {
      if (!dirs.ensureParent(l.path)) {
        skip(l.path, 'a parent is not a directory');
        continue;
      }
      const existed = clear(dest);
      if (existed === null) skip(l.path, 'a directory is in the way');
      else {
        symlinkSync(l.target, dest);
        created.push(l.path);
        if (!existed) result.created.push(l.path);
      }
    } catch (err) {
      throw pathError(l.path, err);
    }
  }
  for (const rel of created) {
    if (await linkStaysInside(root, rel)) result.links++;
    else {
      await unlink(path.join(root, ...rel.split('/')));
      skip(rel, 'symlink resolves outside the destination');
    }
  }
  return result;
}

/** Links or copies one file; true when it was hard-linked. */
function place(f: FileEntry, src: string, dest: string, mode: MaterializeMode, result: MaterializeResult): boolean {
  if (mode === 'link' && (f.mode & 0o111) === 0) {
    try {
      linkSync(src, dest);
      result.linked++;
      return true;
    } catch (err) {
      if (!LINK_FALLBACK.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  if (f.size <= SMALL_COPY_MAX) {
    copySmall(f, src, dest);
    result.copied++;
    return false;
  }
  // FICLONE: a copy-on-write clone (btrfs, XFS, APFS...) costs no space or time; elsewhere a plain copy.
  copyFileSync(src, dest, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  // Never restore setuid/setgid/sticky: an artifact must not grant privileges on the machine that pulls it.
  chmodSync(dest, f.mode & 0o777);
  result.copied++;
  return false;
}

/**
 * Files up to this size are copied with one read and one write through descriptors: copyFileSync (clone attempt,
 * then copy_file_range) cost 75-270 µs per 4 KiB file on ext4 here, five times a read + write; a clone saves
 * nothing worth having at this size.
 */
const SMALL_COPY_MAX = 256 * 1024;
const smallBuf = Buffer.allocUnsafe(SMALL_COPY_MAX);

/** Copies a small cache entry to a new file `dest` with the captured mode (no setuid/setgid/sticky). */
function copySmall(f: FileEntry, src: string, dest: string): void {
  const from = openSync(src, 'r');
  let n = 0;
  try {
    for (let r = 1; r > 0 && n < f.size; n += r) r = readSync(from, smallBuf, n, f.size - n, n);
  } finally {
    closeSync(from);
  }
  // Cut short since it was verified: ENOENT-like for the caller's retry logic (the entry is downloaded again).
  if (n !== f.size)
    throw Object.assign(new Error(`cache entry ${src} is shorter than ${f.size} bytes`), { code: 'ENOENT' });
  const to = openSync(dest, 'wx', 0o600);
  try {
    for (let w = 0; w < n; ) w += writeSync(to, smallBuf, w, n - w);
    // Never restore setuid/setgid/sticky: an artifact must not grant privileges on the machine that pulls it.
    fchmodSync(to, f.mode & 0o777);
  } finally {
    closeSync(to);
  }
}

function isFileOfSize(p: string, size: number): boolean {
  const st = lstatOrNull(p);
  return st?.isFile() === true && st.size === size;
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}

/**
 * Removes a file or symlink at `p` (never following it). True when something was removed, false when nothing was
 * there, null when a directory is in the way.
 */
function clear(p: string): boolean | null {
  const st = lstatOrNull(p);
  if (st === null) return false;
  if (st.isDirectory()) return null;
  unlinkSync(p);
  return true;
}

/** File-system refusals of a name (too long, not encodable here): a coded error naming the manifest path. */
const NAME_ERRORS = new Set(['ENAMETOOLONG', 'EILSEQ', 'EINVAL']);

/** The error to throw for `err` while writing `rel`: a coded one naming the path for refused names. */
function pathError(rel: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code ?? '';
  if (!NAME_ERRORS.has(code)) return err;
  return new StudioError('E_BAD_PATH', `cannot write ${quotePath(rel)} on this file system (${code})`, { cause: err });
}

/** Creates parent directories one level at a time, refusing to go through anything that is not a real directory. */
class DirMaker {
  private readonly known = new Set<string>(['']);
  constructor(
    private readonly root: string,
    private readonly created: string[],
  ) {}

  ensureParent(rel: string): boolean {
    const segs = rel.split('/');
    segs.pop();
    let cur = '';
    for (const seg of segs) {
      cur = cur === '' ? seg : `${cur}/${seg}`;
      if (this.known.has(cur)) continue;
      const abs = path.join(this.root, ...cur.split('/'));
      try {
        mkdirSync(abs);
        this.created.push(cur);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // A pre-existing symlink here could send the write anywhere: lstat, not stat.
        if (!lstatSync(abs).isDirectory()) return false;
      }
      this.known.add(cur);
    }
    return true;
  }
}
