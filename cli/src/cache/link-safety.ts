import { lstat, readlink } from 'node:fs/promises';
import * as path from 'node:path';

/** Same bound as the kernel's symlink-follow limit (Linux MAXSYMLINKS). */
const MAX_HOPS = 40;

/**
 * True when the symlink at `linkRel` (relative POSIX, under `rootReal`, a realpath) resolves to a location inside
 * `rootReal`, following every symlink on the way as the kernel would. Components that do not exist are resolved
 * lexically, so dangling links are judged by where they would point.
 *
 * A lexical check of each target alone is not enough: `a/b/s -> ../../x` and `a/b/t -> s/../..` are each inside
 * the root on paper, but the kernel resolves t through s to the root's parent.
 */
export async function linkStaysInside(rootReal: string, linkRel: string): Promise<boolean> {
  const todo = linkRel.split('/');
  const cur: string[] = [];
  let hops = 0;
  while (todo.length > 0) {
    const seg = todo.shift() as string;
    if (seg === '' || seg === '.') continue;
    if (seg === '..') {
      if (cur.length === 0) return false;
      cur.pop();
      continue;
    }
    cur.push(seg);
    const p = path.join(rootReal, ...cur);
    const st = await lstat(p).catch(() => null);
    if (st === null || !st.isSymbolicLink()) continue;
    if (++hops > MAX_HOPS) return false;
    const target = await readlink(p);
    cur.pop();
    if (path.isAbsolute(target)) {
      const rel = path.relative(rootReal, target);
      if (rel === '..' || rel.startsWith(`..${path.sep}`) || path.isAbsolute(rel)) return false;
      cur.length = 0;
      todo.unshift(...rel.split(path.sep));
    } else {
      todo.unshift(...target.split('/'));
    }
  }
  return true;
}

/** Joins a validated manifest path under `rootAbs` and asserts the result is still strictly inside it. */
export function insidePath(rootAbs: string, rel: string): string | null {
  const abs = path.resolve(rootAbs, ...rel.split('/'));
  const r = path.relative(rootAbs, abs);
  if (r === '' || r === '..' || r.startsWith(`..${path.sep}`) || path.isAbsolute(r)) return null;
  return abs;
}
