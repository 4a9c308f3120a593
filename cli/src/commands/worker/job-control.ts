import { isStudioError, type JobRecord } from '@studio-lite/functions/contract';
import type { ApiClient } from '../../api-client.ts';
import type { Logger } from '../../logger.ts';

export interface JobControl {
  /** `stop` or `kill` once requested (by the user through a heartbeat, or by --max-duration). */
  stopMode(): 'stop' | 'kill' | null;
  /** Set once a heartbeat found the lease gone: the run was killed and must not complete. */
  leaseLost(): boolean;
  /** Why the run was stopped, for the record. */
  readonly warnings: string[];
  /** The script has exited: no --max-duration kill any more (heartbeats go on through the final capture). */
  scriptEnded(): void;
  /** Stops the heartbeat too. Idempotent. */
  stop(): void;
}

/**
 * The running job's side of the queue: a heartbeat every `heartbeatSeconds` that carries stop/kill requests and
 * notices a lost lease (both signal the script through `signal`), and the --max-duration kill.
 */
export function startJobControl(
  client: ApiClient,
  job: JobRecord,
  heartbeatSeconds: number,
  log: Logger,
  signal: (sig: NodeJS.Signals) => void,
): JobControl {
  let mode: 'stop' | 'kill' | null = null;
  let lost = false;
  const warnings: string[] = [];
  const stopChild = (m: 'stop' | 'kill', why: string) => {
    if (mode === 'kill' || mode === m) return;
    mode = m;
    warnings.push(`stopped by the worker: ${why}`);
    log.info(`studio-lite worker: ${job.id}: ${why}`);
    signal(m === 'kill' ? 'SIGKILL' : 'SIGTERM');
  };
  const beat = setInterval(() => {
    client.heartbeat(job.id).then(
      (h) => {
        if (h.stop) stopChild(h.stop, `${h.stop} requested (${h.stopReason ?? 'by the user'})`);
      },
      (err) => {
        if (isStudioError(err, 'E_LEASE_LOST') || isStudioError(err, 'E_TOKEN_EXPIRED')) {
          lost = true;
          log.warn(`studio-lite worker: ${job.id}: lease lost; killing the run (another worker may take it)`);
          signal('SIGKILL');
        } else log.warn(`studio-lite worker: ${job.id}: heartbeat failed: ${(err as Error).message}`);
      },
    );
  }, heartbeatSeconds * 1000);
  let maxTimer: NodeJS.Timeout | null = null;
  if (job.maxDurationSeconds) {
    const left = Date.parse(job.startedAt ?? new Date().toISOString()) + job.maxDurationSeconds * 1000 - Date.now();
    maxTimer = setTimeout(
      () => stopChild('kill', `ran longer than --max-duration ${job.maxDurationSeconds} s`),
      Math.max(left, 0),
    );
  }
  const scriptEnded = () => {
    if (maxTimer) clearTimeout(maxTimer);
  };
  return {
    stopMode: () => mode,
    leaseLost: () => lost,
    warnings,
    scriptEnded,
    stop: () => {
      scriptEnded();
      clearInterval(beat);
    },
  };
}
