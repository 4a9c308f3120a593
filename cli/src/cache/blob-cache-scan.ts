import { lstat, readdir, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { SHA256_RE } from '@studio-lite/functions/contract';

/** One blob file of the cache as `cache info` and `cache prune` see it. */
export interface ScannedBlob {
  path: string;
  sha256: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  nlink: number;
  ino: number;
}

/** Every blob file (`<dir>/sha256/ab/<hash>`); other names and non-files are left alone. */
export async function scanBlobs(dir: string): Promise<ScannedBlob[]> {
  const root = path.join(dir, 'sha256');
  const out: ScannedBlob[] = [];
  const prefixes = await readdir(root).catch(() => [] as string[]);
  for (const prefix of prefixes) {
    if (!/^[0-9a-f]{2}$/.test(prefix)) continue;
    const names = await readdir(path.join(root, prefix)).catch(() => [] as string[]);
    const stats = await Promise.all(
      names.map(async (name) => {
        if (!SHA256_RE.test(name) || !name.startsWith(prefix)) return null;
        const p = path.join(root, prefix, name);
        const st = await lstat(p).catch(() => null);
        if (!st?.isFile()) return null;
        const { size, mtimeMs, ctimeMs, nlink, ino } = st;
        return { path: p, sha256: name, size, mtimeMs, ctimeMs, nlink, ino };
      }),
    );
    for (const st of stats) if (st !== null) out.push(st);
  }
  return out;
}

/** Sizes of the quarantined files. */
export async function scanQuarantine(dir: string): Promise<{ size: number }[]> {
  const names = await readdir(dir).catch(() => [] as string[]);
  const stats = await Promise.all(names.map((n) => lstat(path.join(dir, n)).catch(() => null)));
  return stats.filter((s) => s !== null).map((s) => ({ size: s.size }));
}

/** Deletes the files of `dir` not modified for `maxAgeMs` (crash leftovers); returns how many. */
export async function sweepOld(dir: string, maxAgeMs: number): Promise<number> {
  const names = await readdir(dir).catch(() => [] as string[]);
  let removed = 0;
  for (const name of names) {
    const p = path.join(dir, name);
    const st = await lstat(p).catch(() => null);
    if (st === null || Date.now() - st.mtimeMs <= maxAgeMs) continue;
    if (
      await unlink(p).then(
        () => true,
        () => false,
      )
    )
      removed++;
  }
  return removed;
}
