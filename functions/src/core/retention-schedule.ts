import { isStudioError, StudioError } from '../contract/errors.ts';
import type { Principal } from '../contract/model.ts';
import type { CoreDeps } from './context.ts';
import { runRetention } from './retention.ts';

/**
 * The scheduled retention run (issue 18): the `retention` task kind (core/task-kinds.ts), which Cloud Scheduler
 * triggers daily on a deployment (POST /internal/tasks/retention, terraform) and `studio-lite serve` at its start and
 * daily (hosts/local-server/retention-schedule.ts). It applies the saved policies of every team that has one.
 */

export const RETENTION_KIND = 'retention';

/**
 * Who the audit log names for a scheduled run. No user id can contain `:` (contract/names.ts), so no person can be
 * it; the kind stays a Principal kind (`personal`: what the CLI's `audit` prints without a suffix).
 */
export const RETENTION_SCHEDULE_USER = 'studio-lite:retention-schedule';

export function scheduleActor(team: string): Principal {
  return {
    userId: RETENTION_SCHEDULE_USER,
    tokenId: 'retention-schedule',
    kind: 'personal',
    scopes: [],
    teams: { [team]: 'admin' },
  };
}

export interface ScheduledRetentionResult {
  outcome: 'applied';
  /** Teams visited (with a policy), and those whose run failed. */
  teams: number;
  versionsDeleted: number;
  bytes: number;
  expired: number;
  perTeam: { team: string; versionsDeleted: number; bytes: number; expired: number }[];
  failed: { team: string; code: string; message: string }[];
}

/**
 * Applies the saved policies of `team`, or of every team that has one. One team's failure does not stop the others;
 * when any failed, it throws afterwards (E_UNAVAILABLE if one was unavailable, else E_INTERNAL) with
 * every team's result in `details`, so the queue or the scheduler records a failed run and retries (applying is
 * idempotent: a second run deletes only what became due meanwhile).
 */
export async function scheduledRetention(
  deps: CoreDeps,
  o: { team?: string | undefined },
): Promise<ScheduledRetentionResult> {
  if (!deps.retention) throw new StudioError('E_UNAVAILABLE', 'this backend has no retention policies');
  const teams = o.team !== undefined ? [o.team] : await deps.retention.teamsWithPolicies();
  const result: ScheduledRetentionResult = {
    outcome: 'applied',
    teams: teams.length,
    versionsDeleted: 0,
    bytes: 0,
    expired: 0,
    perTeam: [],
    failed: [],
  };
  let unexpected: unknown;
  for (const team of teams) {
    try {
      const r = await runRetention(deps, team, { dryRun: false, project: null, rules: null }, scheduleActor(team));
      result.versionsDeleted += r.versionsDeleted;
      result.bytes += r.bytes;
      result.expired += r.expired.length;
      result.perTeam.push({ team, versionsDeleted: r.versionsDeleted, bytes: r.bytes, expired: r.expired.length });
    } catch (err) {
      // A StudioError's message is meant for callers; anything else stays the cause (logged by the host).
      if (isStudioError(err)) result.failed.push({ team, code: err.code, message: err.message });
      else {
        unexpected ??= err;
        result.failed.push({ team, code: 'E_INTERNAL', message: 'internal error' });
      }
    }
  }
  if (result.failed.length > 0) {
    const code = result.failed.some((f) => f.code === 'E_UNAVAILABLE') ? 'E_UNAVAILABLE' : 'E_INTERNAL';
    const list = result.failed.map((f) => `${f.team} (${f.code}: ${f.message})`).join('; ');
    throw new StudioError(
      code,
      `scheduled retention failed for ${result.failed.length} of ${teams.length} team(s): ${list}`,
      {
        details: { ...result },
        ...(unexpected === undefined ? {} : { cause: unexpected }),
      },
    );
  }
  return result;
}
