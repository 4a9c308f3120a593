import { isStudioError, StudioError } from '../contract/errors.ts';
import type { AttemptRecord, ExperimentRecord } from '../contract/model.ts';
import type { CoreDeps } from './context.ts';

/**
 * Direct runs (`studio-lite run`, not queued) hold a lease on their experiment that the CLI renews by heartbeat.
 * Nothing has to be awake to notice a lapse: whoever reads the experiment next (show, experiments, run --resume)
 * settles it to `lost` with one compare-and-set, so the status is right no matter which process died.
 */
export const DEFAULT_RUN_LEASE_SECONDS = 60;

export function runLeaseSeconds(deps: CoreDeps): number {
  return deps.runLeaseSeconds ?? DEFAULT_RUN_LEASE_SECONDS;
}

export function leaseDeadline(deps: CoreDeps, now: Date): string {
  return new Date(now.getTime() + runLeaseSeconds(deps) * 1000).toISOString();
}

/** The attempts of a record, synthesising attempt 1 for records written before attempts existed. */
export function attemptsOf(e: ExperimentRecord): AttemptRecord[] {
  if (e.attempts && e.attempts.length > 0) return e.attempts;
  if (!e.startedAt) return [];
  return [
    {
      attempt: e.attempt ?? 1,
      status: e.status,
      command: e.command,
      host: e.host,
      startedAt: e.startedAt,
      finishedAt: e.finishedAt,
      lastSeenAt: e.lastSeenAt ?? null,
      exitCode: e.exitCode,
      signal: e.signal,
    },
  ];
}

/** The attempts with the current (last) one patched. */
export function withCurrentAttempt(e: ExperimentRecord, patch: Partial<AttemptRecord>): AttemptRecord[] {
  const all = attemptsOf(e);
  const last = all[all.length - 1];
  return last ? [...all.slice(0, -1), { ...last, ...patch }] : all;
}

/** Whether a running experiment's lease lapsed at `now`. Runs without a lease (workers, old records) never lapse here. */
export function leaseLapsed(e: ExperimentRecord, now: Date): boolean {
  return e.status === 'running' && Boolean(e.leaseExpiresAt) && Date.parse(e.leaseExpiresAt as string) <= now.getTime();
}

/**
 * Marks a running experiment whose lease lapsed as `lost` (only if nothing renewed or resumed it meanwhile) and
 * returns the current record. Never throws E_CONFLICT: a racing renewal or resume simply wins.
 */
export async function settleLease(deps: CoreDeps, e: ExperimentRecord): Promise<ExperimentRecord> {
  if (!leaseLapsed(e, deps.now())) return e;
  const seen = e.lastSeenAt ?? e.startedAt;
  try {
    return await deps.meta.updateExperiment(
      e.team,
      e.key,
      {
        status: 'lost',
        finishedAt: seen,
        attempts: withCurrentAttempt(e, { status: 'lost', finishedAt: seen, lastSeenAt: seen }),
        warnings: [
          ...e.warnings,
          `attempt ${e.attempt ?? 1} lost: its run stopped renewing its lease; last seen ${seen}`,
        ],
      },
      ['running'],
      { attempt: e.attempt ?? 1, leaseExpiresAt: e.leaseExpiresAt ?? null },
    );
  } catch (err) {
    if (!isStudioError(err, 'E_CONFLICT')) throw err;
    return (await deps.meta.getExperiment(e.team, e.key)) ?? e;
  }
}

/**
 * Renews the lease of attempt `attempt`. A run that was marked lost but is still the current attempt (the machine
 * slept past the lease) takes its experiment back, with a warning. Throws E_LEASE_LOST when another attempt took
 * over, E_CONFLICT when the experiment already ended.
 */
export async function renewLease(deps: CoreDeps, e: ExperimentRecord, attempt: number): Promise<ExperimentRecord> {
  const current = e.attempt ?? 1;
  if (attempt !== current) {
    throw new StudioError(
      'E_LEASE_LOST',
      `experiment ${e.key} was resumed by attempt ${current}; attempt ${attempt} can no longer change it`,
    );
  }
  const now = deps.now();
  const at = now.toISOString();
  const match = { attempt: current };
  if (e.status === 'running') {
    return deps.meta.updateExperiment(
      e.team,
      e.key,
      { lastSeenAt: at, leaseExpiresAt: leaseDeadline(deps, now) },
      ['running'],
      match,
    );
  }
  if (e.status === 'lost') {
    return deps.meta.updateExperiment(
      e.team,
      e.key,
      {
        status: 'running',
        finishedAt: null,
        lastSeenAt: at,
        leaseExpiresAt: leaseDeadline(deps, now),
        attempts: withCurrentAttempt(e, { status: 'running', finishedAt: null, lastSeenAt: at }),
        warnings: [...e.warnings, `attempt ${current} came back at ${at} after its lease lapsed (machine asleep?)`],
      },
      ['lost'],
      match,
    );
  }
  throw new StudioError('E_CONFLICT', `experiment ${e.key} is ${e.status}`, { details: { status: e.status } });
}
