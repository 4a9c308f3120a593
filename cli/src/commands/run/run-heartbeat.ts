import { isStudioError } from '@studio-lite/functions/contract';
import type { ApiClient } from '../../api-client.ts';
import type { Logger } from '../../logger.ts';

export interface RunHeartbeat {
  /** Renews the lease now (e.g. before the final capture, in case the machine slept). */
  beat(): Promise<void>;
  /** Set once another attempt (`--resume` elsewhere) took the experiment over: this run may change nothing. */
  takenOver(): string | null;
  stop(): void;
}

/**
 * Renews a direct run's lease every quarter of its length (at most every 15 s), so a run dies as `lost` within one
 * lease of its CLI dying. A failed renewal is only a warning: the next one may succeed before the lease runs out.
 */
export function startRunHeartbeat(
  client: ApiClient,
  key: string,
  attempt: number,
  leaseSeconds: number,
  log: Logger,
): RunHeartbeat {
  let taken: string | null = null;
  let inFlight: Promise<void> | null = null;
  let warned = false;
  const beat = (): Promise<void> => {
    if (taken) return Promise.resolve();
    inFlight ??= client
      .heartbeatExperiment(key, { attempt })
      .then(() => {
        warned = false;
      })
      .catch((err: unknown) => {
        if (isStudioError(err, 'E_LEASE_LOST') || isStudioError(err, 'E_CONFLICT')) {
          taken = (err as Error).message;
          log.warn(`${taken}; this run's captures and result are no longer recorded`);
        } else if (!warned) {
          warned = true;
          log.warn(`heartbeat failed: ${(err as Error).message}`);
        }
      })
      .finally(() => {
        inFlight = null;
      });
    return inFlight;
  };
  const everyMs = Math.max(250, Math.min(15_000, (leaseSeconds * 1000) / 4));
  const timer = setInterval(() => void beat(), everyMs);
  timer.unref();
  return { beat, takenOver: () => taken, stop: () => clearInterval(timer) };
}
