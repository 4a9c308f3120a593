import type { LocalBackend } from '../../adapters/local/local-backend.ts';

/**
 * Crash leftovers: expired pack descriptions and temp files of writes that died mid-way (kill -9 mid-upload).
 * Every start of the embedded backend runs them in the background; its close waits for the returned promise.
 */
export function sweepCrashLeftovers(backend: LocalBackend, log?: (msg: string, err: unknown) => void): Promise<void> {
  return Promise.all([
    backend.blobs.sweepPackDescriptions().catch((err) => log?.('pack sweep failed', err)),
    backend.blobs.sweepTemp().catch((err) => log?.('temp sweep failed', err)),
  ]).then(() => {});
}
