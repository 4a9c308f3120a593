import { randomBytes } from 'node:crypto';
import { lstat, mkdir, readlink, rename, rm, rmdir, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { type Manifest, quotePath, StudioError } from '@studio-lite/functions/contract';
import pLimit from 'p-limit';
import { insidePath } from '../cache/link-safety.ts';
import { hashFile } from '../capture/hash.ts';

/** Where a pull writes, and how it is made visible (or undone) at the end. */
export interface Destination {
  /** The folder to materialise into (a hidden sibling of a new destination, or the destination itself). */
  dir: string;
  /** Manifest paths that already hold the right content: left as they are. */
  keep: Set<string>;
  /** `dir` was created empty for this pull. */
  fresh: boolean;
  /** Makes the result visible (renames a staged folder into place). */
  finish(): Promise<void>;
  /** Undoes a failed pull: removes the staged folder, or what this pull created in an existing one. */
  abort(created: readonly string[]): Promise<void>;
}

/**
 * Prepares `dest` for a manifest. A new destination is built in a hidden sibling folder and renamed into place at
 * the end, so a pull that fails (a name this file system refuses, a full disk) leaves no partial folder. An existing
 * one is written in place, but only when every file the manifest would overwrite already holds its content (or
 * `force`): otherwise E_DEST_EXISTS lists the differing files and nothing is changed.
 */
export async function prepareDestination(
  dest: string,
  manifest: Manifest,
  opts: { force: boolean },
): Promise<Destination> {
  const st = await lstat(dest).catch(() => null);
  if (st === null) return staged(dest);
  if (!st.isDirectory()) {
    throw new StudioError('E_DEST_EXISTS', `${dest} exists and is not a folder`, { details: { dest } });
  }
  const { keep, differ } = await compare(dest, manifest);
  if (differ.length > 0 && !opts.force) {
    const shown = differ.slice(0, 5).map(quotePath).join(', ');
    const more = differ.length > 5 ? ` and ${differ.length - 5} more` : '';
    throw new StudioError(
      'E_DEST_EXISTS',
      `${differ.length} file(s) in ${dest} differ from the artifact: ${shown}${more}; nothing was changed`,
      { details: { dest, differ: differ.slice(0, 100) } },
    );
  }
  return {
    dir: dest,
    keep: opts.force ? new Set([...keep].filter((p) => !differ.includes(p))) : keep,
    fresh: false,
    finish: async () => undefined,
    abort: async (created) => {
      // Newest first, so folders are empty when their turn comes.
      for (const rel of [...created].reverse()) {
        const abs = path.join(dest, ...rel.split('/'));
        const s = await lstat(abs).catch(() => null);
        if (s?.isDirectory()) await rmdir(abs).catch(() => undefined);
        else if (s !== null) await unlink(abs).catch(() => undefined);
      }
    },
  };
}

async function staged(dest: string): Promise<Destination> {
  const parent = path.dirname(dest);
  const firstMissing = await firstMissingAncestor(parent);
  await mkdir(parent, { recursive: true });
  const dir = path.join(parent, `.${path.basename(dest)}.studio-lite-${randomBytes(4).toString('hex')}`);
  await mkdir(dir);
  return {
    dir,
    keep: new Set(),
    fresh: true,
    finish: async () => {
      try {
        await rename(dir, dest);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code !== 'ENOTEMPTY' && code !== 'EEXIST' && code !== 'ENOTDIR') throw err;
        await rm(dir, { recursive: true, force: true });
        throw new StudioError('E_DEST_EXISTS', `${dest} was created by something else during the pull`);
      }
    },
    abort: async () => {
      await rm(firstMissing ?? dir, { recursive: true, force: true });
    },
  };
}

/** The outermost folder of `p` that does not exist yet (created for the pull, removed if it fails), or null. */
async function firstMissingAncestor(p: string): Promise<string | null> {
  let missing: string | null = null;
  let cur = p;
  while ((await lstat(cur).catch(() => null)) === null) {
    missing = cur;
    const up = path.dirname(cur);
    if (up === cur) break;
    cur = up;
  }
  return missing;
}

/**
 * Which manifest entries already exist in `dest` with the right content (keep), and which exist differently (differ:
 * other bytes or mode, a folder or another link where a file is, ...). Absent entries are in neither.
 */
async function compare(dest: string, manifest: Manifest): Promise<{ keep: Set<string>; differ: string[] }> {
  const keep = new Set<string>();
  const differ: string[] = [];
  const limit = pLimit(4);
  const buf = () => Buffer.allocUnsafe(1 << 20);
  await Promise.all([
    ...manifest.files.map((f) =>
      limit(async () => {
        const abs = insidePath(dest, f.path);
        const st = abs === null ? null : await lstat(abs).catch(() => null);
        if (abs === null || st === null) return;
        // A private copy must also have the captured mode; a hard link (link mode) has the cache's read-only one.
        const modeOk = st.nlink > 1 || (st.mode & 0o777) === (f.mode & 0o777);
        const same =
          st.isFile() &&
          st.size === f.size &&
          modeOk &&
          (await hashFile(abs, buf()).catch(() => null))?.sha256 === f.sha256;
        if (same) keep.add(f.path);
        else differ.push(f.path);
      }),
    ),
    ...manifest.links.map((l) =>
      limit(async () => {
        const abs = insidePath(dest, l.path);
        const st = abs === null ? null : await lstat(abs).catch(() => null);
        if (abs === null || st === null) return;
        if (st.isSymbolicLink() && (await readlink(abs)) === l.target) keep.add(l.path);
        else differ.push(l.path);
      }),
    ),
  ]);
  differ.sort();
  return { keep, differ };
}
