import { existsSync } from 'node:fs';
import { StudioError } from '@studio-lite/functions/contract';
import { BlobCache, type BlobCacheInfo, type BlobCachePruneResult } from '../../cache/blob-cache.ts';
import {
  openStatCache,
  type StatCache,
  type StatCacheInfo,
  type StatCachePruneResult,
} from '../../capture/stat-cache.ts';
import { loadConfig } from '../../config.ts';
import { formatBytes } from '../../format.ts';
import { cliPaths } from '../../home/cli-home.ts';
import type { GlobalOpts } from '../../shared/with-connection.ts';

const UNIT: Record<string, number> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };

/**
 * `500M`, `10G`, `1.5G`, `64KiB`, `2TB` or plain bytes -> bytes (binary units, as `formatBytes` prints them).
 * Throws E_BAD_REQUEST naming the flag.
 */
export function parseSize(s: string, flag: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(s.trim());
  const n = m ? Math.floor(Number(m[1]) * (UNIT[(m[2] as string).toLowerCase()] as number)) : Number.NaN;
  if (!Number.isSafeInteger(n)) {
    throw new StudioError(
      'E_BAD_REQUEST',
      `invalid ${flag} "${s}": use bytes or N with K, M, G or T (e.g. 500M, 1.5G)`,
    );
  }
  return n;
}

/** Both caches of `$STUDIOML_HOME`; purely local files, no backend is opened. */
async function caches(opts: GlobalOpts) {
  const paths = cliPaths((await loadConfig(opts.config)).home);
  return { blobs: new BlobCache(paths.blobcache), statFile: paths.statcache };
}

/** Runs `fn` on the stat cache, or returns `empty` without creating the database when there is none yet. */
function withStatCache<T>(file: string, empty: T, fn: (c: StatCache) => T): T {
  if (!existsSync(file)) return empty;
  const c = openStatCache(file);
  try {
    return fn(c);
  } finally {
    c.close();
  }
}

export interface CacheInfoJson {
  blobCache: BlobCacheInfo & { dir: string };
  statCache: StatCacheInfo & { file: string };
}

/** `studio-lite cache info [--json]`. */
export async function cacheInfoCommand(opts: GlobalOpts & { json?: boolean }): Promise<void> {
  const { blobs, statFile } = await caches(opts);
  const b = await blobs.info();
  const s = withStatCache(statFile, { dirs: 0, entries: 0, bytes: 0 }, (c) => c.info());
  const out: CacheInfoJson = { blobCache: { dir: blobs.dir, ...b }, statCache: { file: statFile, ...s } };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const shared = b.sharedBlobs
    ? ` (${b.sharedBlobs} also hard-linked in pulled folders: ${formatBytes(b.sharedBytes)})`
    : '';
  const changed = b.changedBlobs ? `; ${b.changedBlobs} changed since verified (re-hashed before use or by prune)` : '';
  const quarantined = b.quarantined
    ? `; ${b.quarantined} found tampered with in quarantine (${formatBytes(b.quarantinedBytes)}, removed by prune)`
    : '';
  process.stdout.write(
    `blob cache: ${b.blobs} blob(s), ${formatBytes(b.bytes)}${shared} in ${blobs.dir}${changed}${quarantined}\n` +
      `stat cache: ${s.entries} file(s) in ${s.dirs} folder(s), ${formatBytes(s.bytes)} in ${statFile}\n`,
  );
}

export interface CachePruneJson {
  blobCache: BlobCachePruneResult & { maxBytes: number | null };
  statCache: StatCachePruneResult;
}

/**
 * `studio-lite cache prune [--max-size SIZE] [--json]`: forget stale stat-cache entries; sweep crash leftovers,
 * re-verify changed blobs (quarantining tampered ones), empty the quarantine and trim blobs.
 */
export async function cachePruneCommand(opts: GlobalOpts & { maxSize?: string; json?: boolean }): Promise<void> {
  const maxBytes = opts.maxSize === undefined ? undefined : parseSize(opts.maxSize, '--max-size');
  const { blobs, statFile } = await caches(opts);
  const s = withStatCache(statFile, { dirs: 0, removedDirs: 0, removedEntries: 0 }, (c) => c.prune());
  const b = await blobs.prune({ maxBytes });
  const out: CachePruneJson = { blobCache: { maxBytes: maxBytes ?? null, ...b }, statCache: s };
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    return;
  }
  const temp = b.removedTemp ? `${b.removedTemp} stale temp file(s) removed; ` : '';
  const tampered = b.rehashed
    ? `re-hashed ${b.rehashed} changed entr${b.rehashed === 1 ? 'y' : 'ies'}, ${b.quarantined} tampered with; `
    : '';
  const quarantine = b.removedQuarantine ? `${b.removedQuarantine} quarantined file(s) removed; ` : '';
  const evicted =
    maxBytes === undefined
      ? ''
      : `evicted ${b.evicted} blob(s) for --max-size ${formatBytes(maxBytes)}, freed ${formatBytes(b.freedBytes)}; `;
  process.stdout.write(
    `blob cache: ${temp}${tampered}${quarantine}${evicted}${b.blobs} blob(s), ${formatBytes(b.bytes)} kept\n` +
      `stat cache: removed ${s.removedEntries} entr${s.removedEntries === 1 ? 'y' : 'ies'} of deleted files, ` +
      `forgot ${s.removedDirs} of ${s.dirs} folder(s)\n`,
  );
}
