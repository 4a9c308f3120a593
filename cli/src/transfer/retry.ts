import { setTimeout as sleep } from 'node:timers/promises';
import { isStudioError } from '@studio-lite/functions/contract';

export interface RetryOptions {
  /** Further attempts after the first; default 5. */
  retries?: number;
  /** First backoff; doubles each attempt (full jitter). Default 250 ms. */
  minDelayMs?: number;
  maxDelayMs?: number;
  signal?: AbortSignal;
}

/**
 * Worth retrying: network failures (fetch rejects with a TypeError or an errno error) and storage answers marked
 * retryable (5xx, 429). Not: coded errors about the request or the data, or an abort.
 */
export function isRetryable(err: unknown): boolean {
  if (isStudioError(err)) return err.details?.retryable === true;
  if (err instanceof Error && (err.name === 'AbortError' || err.name === 'TimeoutError')) return false;
  return true;
}

/** Runs `fn` until it succeeds, a non-retryable error occurs, or the attempts are used up (the last error wins). */
export async function withRetry<T>(fn: (attempt: number) => Promise<T>, opts: RetryOptions = {}): Promise<T> {
  const retries = opts.retries ?? 5;
  const min = opts.minDelayMs ?? 250;
  const max = opts.maxDelayMs ?? 10_000;
  for (let attempt = 0; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      if (attempt >= retries || !isRetryable(err) || opts.signal?.aborted) throw err;
      const hinted = isStudioError(err) && typeof err.details?.retryAfterMs === 'number' ? err.details.retryAfterMs : 0;
      const backoff = Math.random() * Math.min(max, min * 2 ** attempt);
      await sleep(Math.min(max, Math.max(hinted, backoff)), undefined, { signal: opts.signal });
    }
  }
}
