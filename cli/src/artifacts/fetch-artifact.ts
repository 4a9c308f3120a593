import { manifestTotals, StudioError } from '@studio-lite/functions/contract';
import type { ApiClient } from '../api-client.ts';
import { BlobCache } from '../cache/blob-cache.ts';
import { type MaterializeMode, materialize } from '../cache/materialize.ts';
import type { CliConfig } from '../config.ts';
import { cliPaths } from '../home/cli-home.ts';
import type { Logger } from '../logger.ts';
import { startProgress } from '../progress.ts';
import { downloadToCache } from '../transfer/download.ts';
import { prepareDestination } from './destination.ts';

export interface FetchResult {
  version: number;
  files: number;
  bytes: number;
  downloadedBlobs: number;
  downloadedBytes: number;
  cachedBlobs: number;
}

/**
 * Resolves an artifact version, brings its blobs into the verified cache (only the missing ones travel) and lays the
 * files out in `dest` from the cache (destination.ts: staged when new, refused when existing files differ unless
 * `force`). Never stale: `latest` is resolved by the API each time, blobs by hash.
 */
export async function fetchArtifact(
  client: ApiClient,
  cfg: CliConfig,
  ref: { experiment: string; tag: string; version?: number | undefined; alias?: string | undefined },
  dest: string,
  opts: { mode: MaterializeMode; log: Logger; cacheDir?: string | undefined; force?: boolean },
): Promise<FetchResult> {
  const { version: v } = await client.getVersion(ref.experiment, ref.tag, ref.alias ?? ref.version ?? 'latest');
  const cache = new BlobCache(opts.cacheDir ?? cliPaths(cfg.home).blobcache);
  const totals = manifestTotals(v.manifest);
  const vref = { experiment: ref.experiment, tag: ref.tag, version: v.version };
  const result: FetchResult = { version: v.version, ...totals, downloadedBlobs: 0, downloadedBytes: 0, cachedBlobs: 0 };
  const target = await prepareDestination(dest, v.manifest, { force: opts.force ?? false });
  const progress = startProgress(opts.log, `pull ${ref.experiment}/${ref.tag}@${v.version}`);
  const created: string[] = [];
  try {
    // A cache entry found tampered with during materialisation is quarantined; one more round fetches it again.
    for (let round = 0; round < 2; round += 1) {
      const dl = await downloadToCache(client, vref, v.manifest, cache, {
        onProgress: (bytes) => progress.update({ phase: 'download', bytes, totalBytes: totals.bytes }),
      });
      result.downloadedBlobs += dl.downloadedBlobs;
      result.downloadedBytes += dl.downloadedBytes;
      if (round === 0) result.cachedBlobs = dl.cachedBlobs;
      const m = await materialize(v.manifest, cache, target.dir, {
        mode: opts.mode,
        keep: target.keep,
        // A second round goes over files the first one placed: look before writing then.
        fresh: target.fresh && round === 0,
        created,
        warn: (w) => opts.log.warn(w),
      });
      if (m.missing.length === 0) {
        await target.finish();
        return result;
      }
    }
    throw new StudioError(
      'E_HASH_MISMATCH',
      `cache entries for ${ref.experiment}/${ref.tag} keep failing verification`,
    );
  } catch (err) {
    await target.abort(created);
    throw err;
  } finally {
    progress.stop();
    cache.stats.close();
  }
}
