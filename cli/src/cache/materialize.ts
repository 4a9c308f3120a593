import { constants } from 'node:fs';
import { chmod, copyFile, link, lstat, mkdir, realpath, symlink, unlink, utimes } from 'node:fs/promises';
import * as path from 'node:path';
import type { FileEntry, Manifest } from '@studio-lite/functions/core/manifest.ts';
import pLimit from 'p-limit';
import type { BlobCache } from './blob-cache.ts';
import { insidePath, linkStaysInside } from './link-safety.ts';

export interface MaterializeOptions {
  /**
   * 'link' hard-links cache files (fast, no extra space; files are read-only and share mtime with the cache entry);
   * executables are copied anyway, since a shared inode cannot carry the x bit for one artifact only.
   * 'copy' makes private writable copies (reflinks where the file system supports them).
   */
  mode: 'link' | 'copy';
  warn?: (message: string) => void;
  concurrency?: number;
}

export interface MaterializeResult {
  linked: number;
  copied: number;
  links: number;
  /** "path: reason" for entries not created. */
  skipped: string[];
  /** Blobs absent from the cache or evicted because they were tampered with: download them and run again. */
  missing: { sha256: string; size: number }[];
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
  const result: MaterializeResult = { linked: 0, copied: 0, links: 0, skipped: [], missing: [] };
  const skip = (p: string, reason: string): void => {
    result.skipped.push(`${p}: ${reason}`);
    opts.warn?.(`${p}: ${reason}`);
  };
  await mkdir(destDir, { recursive: true });
  const root = await realpath(destDir);
  const dirs = new DirMaker(root);
  const limit = pLimit(opts.concurrency ?? 16);

  const usable = await checkCache(manifest.files, cache, result, opts.warn);

  await Promise.all(
    manifest.files.map((f) =>
      limit(async () => {
        if (!usable.has(f.sha256)) return;
        const dest = insidePath(root, f.path);
        if (dest === null) return skip(f.path, 'path leaves the destination');
        if (!(await dirs.ensureParent(f.path))) return skip(f.path, 'a parent is not a directory');
        if (!(await clear(dest))) return skip(f.path, 'a directory is in the way');
        try {
          await place(f, cache.path(f.sha256), dest, opts.mode, result);
        } catch (err) {
          // Evicted since it was checked (a `cache prune` running meanwhile): download it and run again.
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || (await cache.has(f.sha256, f.size))) throw err;
          if (!result.missing.some((m) => m.sha256 === f.sha256))
            result.missing.push({ sha256: f.sha256, size: f.size });
          return;
        }
        const t = f.mtime / 1000;
        await utimes(dest, t, t);
      }),
    ),
  );

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
    if (!(await dirs.ensureParent(l.path))) skip(l.path, 'a parent is not a directory');
    else if (!(await clear(dest))) skip(l.path, 'a directory is in the way');
    else {
      await symlink(l.target, dest);
      created.push(l.path);
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

/** Verifies each distinct cache entry once; a modified one is evicted so the caller downloads it again. */
async function checkCache(
  files: readonly FileEntry[],
  cache: BlobCache,
  result: MaterializeResult,
  warn: ((m: string) => void) | undefined,
): Promise<Set<string>> {
  const sizes = new Map<string, number>();
  for (const f of files) sizes.set(f.sha256, f.size);
  const usable = new Set<string>();
  const limit = pLimit(32);
  await Promise.all(
    [...sizes].map(([sha256, size]) =>
      limit(async () => {
        const st = await lstat(cache.path(sha256)).catch(() => null);
        // Writable means someone chmodded it, most likely to write through a hard link: the bytes are suspect.
        if (st?.isFile() && st.size === size && (st.mode & 0o222) === 0) {
          usable.add(sha256);
          return;
        }
        if (st !== null) {
          await cache.evict(sha256);
          warn?.(`cache entry ${sha256.slice(0, 12)}… was modified; evicted`);
        }
        result.missing.push({ sha256, size });
      }),
    ),
  );
  return usable;
}

async function place(
  f: FileEntry,
  src: string,
  dest: string,
  mode: 'link' | 'copy',
  result: MaterializeResult,
): Promise<void> {
  if (mode === 'link' && (f.mode & 0o111) === 0) {
    try {
      await link(src, dest);
      result.linked++;
      return;
    } catch (err) {
      if (!LINK_FALLBACK.has((err as NodeJS.ErrnoException).code ?? '')) throw err;
    }
  }
  await copyFile(src, dest, constants.COPYFILE_EXCL | constants.COPYFILE_FICLONE);
  // Never restore setuid/setgid/sticky: an artifact must not grant privileges on the machine that pulls it.
  await chmod(dest, f.mode & 0o777);
  result.copied++;
}

/** Removes a file or symlink at `p` (never following it). False when a directory is there. */
async function clear(p: string): Promise<boolean> {
  const st = await lstat(p).catch(() => null);
  if (st === null) return true;
  if (st.isDirectory()) return false;
  await unlink(p);
  return true;
}

/** Creates parent directories one level at a time, refusing to go through anything that is not a real directory. */
class DirMaker {
  private readonly known = new Set<string>(['']);
  constructor(private readonly root: string) {}

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
