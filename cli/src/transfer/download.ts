import { isStudioError, LIMITS, type Manifest, type SignedRequest, StudioError } from '@studio-lite/functions/contract';
import pLimit from 'p-limit';
import type { ApiClient } from '../api-client.ts';
import type { BlobCache } from '../cache/blob-cache.ts';
import { linkedSignal } from './linked-signal.ts';
import { type RetryOptions, withRetry } from './retry.ts';
import { storageError } from './storage-error.ts';

export interface ArtifactVersionRef {
  experiment: string;
  tag: string;
  version: number;
}

export interface DownloadOptions {
  /** Downloads in flight; default 8. */
  concurrency?: number;
  /** Running total of bytes received (goes back down when a failed attempt is retried). */
  onProgress?: (bytesDone: number) => void;
  signal?: AbortSignal;
  retry?: Omit<RetryOptions, 'signal'>;
  /** Blobs per signing request; at most LIMITS.downloadBatch. */
  batchSize?: number;
  /**
   * Bytes per signing request: URLs live minutes, so a batch is signed just before it is fetched and kept small
   * enough to finish before they expire. Default 2 GiB.
   */
  batchBytes?: number;
}

export interface DownloadResult {
  downloadedBlobs: number;
  downloadedBytes: number;
  cachedBlobs: number;
}

/**
 * Brings every blob of a manifest into the cache: asks the API to sign only the missing ones, fetches them in
 * parallel with retries and verifies each on ingest. An expired URL is re-signed once. The first failure that
 * is not retryable cancels the rest and is thrown (E_HASH_MISMATCH for bad bytes, storage codes otherwise).
 */
export async function downloadToCache(
  client: Pick<ApiClient, 'signDownloads'>,
  ref: ArtifactVersionRef,
  manifest: Manifest,
  cache: BlobCache,
  opts: DownloadOptions = {},
): Promise<DownloadResult> {
  const sizes = new Map<string, number>();
  for (const f of manifest.files) sizes.set(f.sha256, f.size);
  const missing: string[] = [];
  const statLimit = pLimit(32);
  await Promise.all(
    [...sizes].map(([sha, size]) => statLimit(async () => (await cache.has(sha, size)) || missing.push(sha))),
  );
  const result: DownloadResult = { downloadedBlobs: 0, downloadedBytes: 0, cachedBlobs: sizes.size - missing.length };

  const stop = new AbortController();
  const signal = opts.signal === undefined ? stop.signal : AbortSignal.any([opts.signal, stop.signal]);
  const limit = pLimit(Math.max(1, opts.concurrency ?? 8));
  let done = 0;
  const progress = (n: number): void => {
    done += n;
    opts.onProgress?.(done);
  };
  const sign = async (sha256s: string[]): Promise<Map<string, SignedRequest>> => {
    const res = await client.signDownloads(ref.experiment, ref.tag, ref.version, { sha256s });
    const map = new Map(res.blobs.map((b) => [b.sha256, b.request]));
    const absent = sha256s.filter((s) => !map.has(s));
    if (absent.length > 0) {
      throw new StudioError('E_BLOB_MISSING', `the server did not sign ${absent.length} blob(s) of this version`, {
        details: { sha256s: absent.slice(0, 20) },
      });
    }
    return map;
  };

  for (const batch of batches(
    missing,
    sizes,
    Math.min(opts.batchSize ?? LIMITS.downloadBatch, LIMITS.downloadBatch),
    opts.batchBytes ?? 2 ** 31,
  )) {
    if (signal.aborted) break;
    const signed = await sign(batch);
    let fatal: unknown;
    await Promise.all(
      batch.map((sha) =>
        limit(async () => {
          if (signal.aborted) return;
          const size = sizes.get(sha) as number;
          const once = (req: SignedRequest) =>
            withRetry(() => fetchInto(cache, sha, size, req, signal, progress), { ...opts.retry, signal });
          try {
            try {
              await once(signed.get(sha) as SignedRequest);
            } catch (err) {
              if (!isStudioError(err, 'E_URL_EXPIRED')) throw err;
              await once((await sign([sha])).get(sha) as SignedRequest);
            }
            result.downloadedBlobs++;
            result.downloadedBytes += size;
          } catch (err) {
            if (fatal === undefined) {
              fatal = err;
              stop.abort(err);
            }
          }
        }),
      ),
    );
    if (fatal !== undefined && !opts.signal?.aborted) throw fatal;
  }
  if (opts.signal?.aborted) throw opts.signal.reason;
  return result;
}

async function fetchInto(
  cache: BlobCache,
  sha256: string,
  size: number,
  req: SignedRequest,
  signal: AbortSignal,
  progress: (n: number) => void,
): Promise<void> {
  let got = 0;
  const own = linkedSignal(signal);
  try {
    const res = await fetch(req.url, { method: req.method, headers: req.headers, signal: own.signal });
    if (!res.ok) throw await storageError(res, `download of blob ${sha256.slice(0, 12)}…`);
    await cache.ingest(
      sha256,
      size,
      counted(res.body ?? emptyBody(), (n) => {
        got += n;
        progress(n);
      }),
    );
  } catch (err) {
    progress(-got);
    throw err;
  } finally {
    own.release();
  }
}

async function* counted(body: AsyncIterable<Uint8Array>, onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  for await (const chunk of body) {
    onBytes(chunk.byteLength);
    yield chunk;
  }
}

async function* emptyBody(): AsyncGenerator<Uint8Array> {}

/** Splits by count and by bytes; a single blob larger than maxBytes gets a batch of its own. */
function* batches(shas: string[], sizes: Map<string, number>, maxCount: number, maxBytes: number): Generator<string[]> {
  let cur: string[] = [];
  let bytes = 0;
  for (const sha of shas) {
    const size = sizes.get(sha) as number;
    if (cur.length > 0 && (cur.length >= maxCount || bytes + size > maxBytes)) {
      yield cur;
      cur = [];
      bytes = 0;
    }
    cur.push(sha);
    bytes += size;
  }
  if (cur.length > 0) yield cur;
}
