import { constants } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, realpath, symlink, unlink, utimes } from 'node:fs/promises';
import * as path from 'node:path';
import { StudioError } from '@studio-lite/functions/core/errors.ts';
import { type FileEntry, type Manifest, quotePath } from '@studio-lite/functions/core/manifest.ts';
import pLimit from 'p-limit';
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
  warn?: (message: string) => void;
  concurrency?: number;
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
  const limit = pLimit(opts.concurrency ?? 16);

  const wanted = new Map(manifest.files.map((f) => [f.sha256, f.size]));
  const checked = await verifyEntries(cache, wanted);
  const usable = checked.usable;
  result.missing.push(...checked.missing);
  result.quarantined.push(...checked.quarantined);
  if (checked.quarantined.length > 0) opts.warn?.(tamperedWarning(cache, checked.quarantined));
  const linkedShas = new Set<string>();

  // allSettled: when one file fails, the others must have finished before the caller cleans up.
  const settled = await Promise.allSettled(
    manifest.files.map((f) =>
      limit(async () => {
        if (!usable.has(f.sha256) || opts.keep?.has(f.path)) return;
        const dest = insidePath(root, f.path);
        if (dest === null) return skip(f.path, 'path leaves the destination');
        if (!(await dirs.ensureParent(f.path).catch(pathError(f.path)))) {
          return skip(f.path, 'a parent is not a directory');
        }
        const existed = await clear(dest).catch(pathError(f.path));
        if (existed === null) return skip(f.path, 'a directory is in the way');
        try {
          if (await place(f, cache.path(f.sha256), dest, opts.mode, result)) linkedShas.add(f.sha256);
          if (!existed) result.created.push(f.path);
        } catch (err) {
          // Evicted since it was checked (a `cache prune` running meanwhile): download it and run again.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || (await cache.has(f.sha256, f.size))) {
            throw pathError(f.path)(err);
          }
          if (!result.missing.some((m) => m.sha256 === f.sha256))
            result.missing.push({ sha256: f.sha256, size: f.size });
          return;
        }
        const t = f.mtime / 1000;
        await utimes(dest, t, t);
      }),
    ),
  );
  const failed = settled.find((x) => x.status === 'rejected');
  if (failed) throw failed.reason;
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
    if (!(await dirs.ensureParent(l.path).catch(pathError(l.path)))) {
      skip(l.path, 'a parent is not a directory');
      continue;
    }
    const existed = await clear(dest).catch(pathError(l.path));
    if (existed === null) skip(l.path, 'a directory is in the way');
    else {
      await symlink(l.target, dest).catch(pathError(l.path));
      created.push(l.path);
      if (!existed) result.created.push(l.path);
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
async function place(
  f: FileEntry,
  src: string,
  dest: string,
  mode: MaterializeMode,
  result: MaterializeResult,
): Promise<boolean> {
  if (mode === 'link' && (f.mode & 0o111) === 0) {
    try {
      await link(src, dest);
      result.linked++;
      return true;
    } catch (err) {
      if (!LINK_FALLBACK.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  await copyFile(src, dest, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  // Never restore setuid/setgid/sticky: an artifact must not grant privileges on the machine that pulls it.
  await chmod(dest, f.mode & 0o777);
  result.copied++;
  return false;
}

/**
 * Removes a file or symlink at `p` (never following it). True when something was removed, false when nothing was
 * there, null when a directory is in the way.
 */
async function clear(p: string): Promise<boolean | null> {
  const st = await lstat(p).catch(() => null);
  if (st === null) return false;
  if (st.isDirectory()) return null;
  await unlink(p);
  return true;
}

/** File-system refusals of a name (too long, not encodable here): a coded error naming the manifest path. */
const NAME_ERRORS = new Set(['ENAMETOOLONG', 'EILSEQ', 'EINVAL']);

function pathError(rel: string): (err: unknown) => never {
  return (err) => {
    const code = (err as NodeJS.ErrnoException).code ?? '';
    if (!NAME_ERRORS.has(code)) throw err;
    throw new StudioError('E_BAD_PATH', `cannot write ${quotePath(rel)} on this file system (${code})`, { cause: err });
  };
}

/** Creates parent directories one level at a time, refusing to go through anything that is not a real directory. */
class DirMaker {
  private readonly known = new Set<string>(['']);
  constructor(
    private readonly root: string,
    private readonly created: string[],
  ) {}

  async ensureParent(rel: string): Promise<boolean> {
    const segs = rel.split('/');
    segs.pop();
    let cur = '';
    for (const seg of segs) {
      cur = cur === '' ? seg : `${cur}/${seg}`;
      if (this.known.has(cur)) continue;
      const abs = path.join(this.root, ...cur.split('/'));
      try {
        await mkdir(abs);
        this.created.push(cur);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        // A pre-existing symlink here could send the write anywhere: lstat, not stat.
        const st = await lstat(abs);
        if (!st.isDirectory()) return false;
      }
      this.known.add(cur);
    }
    return true;
  }
}
