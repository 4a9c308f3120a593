import { isStudioError, LIMITS, type Manifest, type SignedRequest, StudioError } from '@studio-lite/functions/contract';
import pLimit from 'p-limit';
import type { ApiClient } from '../api-client.ts';
import type { BlobCache } from '../cache/blob-cache.ts';
import { linkedSignal } from './linked-signal.ts';
import { type RetryOptions, withRetry } from './retry.ts';
import { storageError } from './storage-error.ts';

/** Where downloaded blobs go, verified: the blob cache, or (a push's small blobs) memory. */
export type BlobSink = Pick<BlobCache, 'absent' | 'ingest' | 'ingestMany'>;

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
  cache: BlobSink,
  opts: DownloadOptions = {},
): Promise<DownloadResult> {
  const sizes = new Map<string, number>();
  for (const f of manifest.files) sizes.set(f.sha256, f.size);
  const missing = cache.absent([...sizes].map(([sha256, size]) => ({ sha256, size }))).map((b) => b.sha256);
  const result: DownloadResult = { downloadedBlobs: 0, downloadedBytes: 0, cachedBlobs: sizes.size - missing.length };

  const stop = new AbortController();
  const signal = opts.signal === undefined ? stop.signal : AbortSignal.any([opts.signal, stop.signal]);
  const limit = pLimit(Math.max(1, opts.concurrency ?? 8));
  let done = 0;
  const progress = (n: number): void => {
    done += n;
    opts.onProgress?.(done);
  };
  /** Signs `sha256s`: one task per loose blob, one per coalesced range of each pack. */
  const sign = async (sha256s: string[]): Promise<Task[]> => {
    const res = await client.signDownloads(ref.experiment, ref.tag, ref.version, { sha256s });
    const tasks: Task[] = res.blobs.map((b) => ({
      kind: 'blob',
      sha256: b.sha256,
      size: sizes.get(b.sha256) ?? b.size,
      request: b.request,
    }));
    const signed = new Set(res.blobs.map((b) => b.sha256));
    for (const p of res.packs ?? []) {
      // Each entry is one signed range of a pack: its members, back to back.
      for (const m of p.members) signed.add(m.sha256);
      const members = [...p.members].sort((a, b) => a.offset - b.offset);
      const first = members[0];
      const last = members[members.length - 1];
      if (!first || !last) continue;
      tasks.push({ kind: 'range', request: p.request, start: first.offset, end: last.offset + last.size, members });
    }
    const absent = sha256s.filter((s) => !signed.has(s));
    if (absent.length > 0) {
      throw new StudioError('E_BLOB_MISSING', `the server did not sign ${absent.length} blob(s) of this version`, {
        details: { sha256s: absent.slice(0, 20) },
      });
    }
    return tasks;
  };
  const run = (task: Task) =>
    withRetry(
      () =>
        task.kind === 'blob'
          ? fetchInto(cache, task.sha256, task.size, task.request, signal, progress)
          : fetchRange(cache, task, signal, progress),
      { ...opts.retry, signal },
    );

  for (const batch of batches(
    missing,
    sizes,
    Math.min(opts.batchSize ?? LIMITS.downloadBatch, LIMITS.downloadBatch),
    opts.batchBytes ?? 2 ** 31,
  )) {
    if (signal.aborted) break;
    const tasks = await sign(batch);
    let fatal: unknown;
    await Promise.all(
      tasks.map((task) =>
        limit(async () => {
          if (signal.aborted) return;
          try {
            try {
              await run(task);
            } catch (err) {
              // An expired URL, or a pack a GC run repacked since it was signed: sign these blobs again, once.
              if (!isStudioError(err, 'E_URL_EXPIRED') && !isStudioError(err, 'E_NOT_FOUND')) throw err;
              for (const again of await sign(shasOf(task))) await run(again);
            }
            for (const m of membersOf(task)) {
              result.downloadedBlobs++;
              result.downloadedBytes += m.size;
            }
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

type Member = { sha256: string; size: number; offset: number };
type Task =
  | { kind: 'blob'; sha256: string; size: number; request: SignedRequest }
  | { kind: 'range'; request: SignedRequest; start: number; end: number; members: Member[] };

const shasOf = (t: Task) => (t.kind === 'blob' ? [t.sha256] : t.members.map((m) => m.sha256));
const membersOf = (t: Task) => (t.kind === 'blob' ? [{ size: t.size }] : t.members);

/** One ranged GET of a pack; every member in it is verified and ingested as one batch (one flush to disk). */
async function fetchRange(
  cache: BlobSink,
  task: Extract<Task, { kind: 'range' }>,
  signal: AbortSignal,
  progress: (n: number) => void,
): Promise<void> {
  let got = 0;
  const own = linkedSignal(signal);
  const length = task.end - task.start;
  try {
    // The request is signed for exactly this range (a signed `Range` header, or the range bound into the URL).
    const res = await fetch(task.request.url, { method: 'GET', headers: task.request.headers, signal: own.signal });
    if (!res.ok) throw await storageError(res, `download of ${task.members.length} packed blob(s)`);
    const chunks: Uint8Array[] = [];
    for await (const chunk of (res.body ?? emptyBody()) as AsyncIterable<Uint8Array>) {
      chunks.push(chunk);
      got += chunk.byteLength;
      progress(chunk.byteLength);
    }
    let body = Buffer.concat(chunks);
    // A store that ignored the range sent the whole pack: cut the range out of it.
    if (res.status === 200 && body.byteLength > length) body = body.subarray(task.start, task.end);
    if (body.byteLength !== length) {
      throw new StudioError('E_HASH_MISMATCH', `a pack range came with ${body.byteLength} of ${length} bytes`, {
        details: { retryable: true },
      });
    }
    await cache.ingestMany(
      task.members.map((m) => ({
        sha256: m.sha256,
        data: body.subarray(m.offset - task.start, m.offset - task.start + m.size),
      })),
    );
  } catch (err) {
    progress(-got);
    throw err;
  } finally {
    own.release();
  }
}

async function fetchInto(
  cache: BlobSink,
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
