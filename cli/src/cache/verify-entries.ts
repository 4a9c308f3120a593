import { lstatSync, type Stats } from 'node:fs';
import { chmod, lstat } from 'node:fs/promises';
import pLimit from 'p-limit';
import { hashFile } from '../capture/hash.ts';
import { CACHE_ENTRY_MODE, type EntryStats, sameStat } from './entry-stats.ts';

/** What verifying needs of a blob cache: VerifiableCache is one (an interface, so blob-cache.ts can call this file). */
export interface VerifiableCache {
  readonly stats: EntryStats;
  readonly quarantineDir: string;
  path(sha256: string): string;
  quarantine(sha256: string): Promise<void>;
}

export interface VerifyResult {
  /** Entries that hold the expected bytes now (stat unchanged since recorded, or re-hashed and found intact). */
  usable: Set<string>;
  /** Absent, or quarantined just now: download them. */
  missing: { sha256: string; size: number }[];
  /** Entries whose bytes were not the expected ones, moved to `<cache>/quarantine`. */
  quarantined: string[];
  /** Entries whose stat had moved (or that had no record) and were re-hashed. */
  rehashed: number;
}

/**
 * Checks each wanted entry before it is handed out. An entry whose inode, size, mtime and ctime still equal the
 * record made when it was verified is trusted without reading it; any other (written through a hard link, chmodded,
 * replaced, or from a cache older than the records) is re-hashed: intact, it is made read-only again and re-recorded;
 * not intact, it is quarantined and reported missing so the caller downloads it again.
 */
export async function verifyEntries(
  cache: VerifiableCache,
  wanted: ReadonlyMap<string, number>,
): Promise<VerifyResult> {
  const out: VerifyResult = { usable: new Set(), missing: [], quarantined: [], rehashed: 0 };
  const shas = [...wanted.keys()];
  const recorded = cache.stats.get(shas);
  const fresh: { sha256: string; ino: number; size: number; mtimeMs: number; ctimeMs: number }[] = [];
  // The common case (nothing moved) is one lstat per entry: synchronous, since a thread-pool round trip per entry
  // costs more than the call itself for 20,000 entries. Only suspects are read, in parallel.
  const suspects: { sha256: string; size: number; st: Stats }[] = [];
  for (const [i, sha256] of shas.entries()) {
    if (i % 4096 === 4095) await new Promise<void>((resolve) => setImmediate(resolve));
    const size = wanted.get(sha256) as number;
    const st = lstatOrNull(cache.path(sha256));
    if (st === null) out.missing.push({ sha256, size });
    else if (st.isFile() && st.size === size && sameStat(st, recorded.get(sha256))) out.usable.add(sha256);
    else suspects.push({ sha256, size, st });
  }
  const limit = pLimit(4);
  const buf = () => Buffer.allocUnsafe(1 << 20);
  await Promise.all(
    suspects.map(({ sha256, size, st }) =>
      limit(async () => {
        const p = cache.path(sha256);
        out.rehashed++;
        const h = st.isFile() && st.size === size ? await hashFile(p, buf()).catch(() => null) : null;
        if (h !== null && h.sha256 === sha256 && h.size === size) {
          if ((st.mode & 0o777) !== CACHE_ENTRY_MODE) await chmod(p, CACHE_ENTRY_MODE);
          const now = await lstat(p);
          // Changed again while we looked: leave it unrecorded, the next use re-hashes it.
          if (now.ino === h.ino && now.size === h.size && now.mtimeMs === h.mtimeMs)
            fresh.push({ sha256, ...pick(now) });
          out.usable.add(sha256);
          return;
        }
        await cache.quarantine(sha256);
        out.quarantined.push(sha256);
        out.missing.push({ sha256, size });
      }),
    ),
  );
  if (fresh.length > 0) cache.stats.put(fresh);
  return out;
}

/** The fields of a stat that are recorded. */
export function pick(st: { ino: number; size: number; mtimeMs: number; ctimeMs: number }) {
  return { ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs };
}

/** The one warning line for entries found tampered with in one operation. */
export function tamperedWarning(cache: VerifiableCache, quarantined: readonly string[]): string {
  const n = quarantined.length;
  const which = n === 1 ? `entry ${quarantined[0]?.slice(0, 12)}…` : `${n} entries`;
  return (
    `blob cache ${which} changed behind studio-lite's back (written through a pulled file or edited in place); ` +
    `moved to ${cache.quarantineDir} and fetched again`
  );
}

function lstatOrNull(p: string): Stats | null {
  try {
    return lstatSync(p);
  } catch {
    return null;
  }
}
