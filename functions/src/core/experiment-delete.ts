import { isStudioError, StudioError } from '../contract/errors.ts';
import { JOB_TERMINAL } from '../contract/job-model.ts';
import type { Principal } from '../contract/model.ts';
import { assertExperimentKey } from '../contract/names.ts';
import type { DeleteExperimentResult } from '../contract/results.ts';
import { recordAudit } from './audit.ts';
import { requireAnswerable, requireRole, requireUserCredential } from './authz.ts';
import type { CoreDeps } from './context.ts';
import { revokeJobTokens } from './job-tokens.ts';

/**
 * A forced delete first ends the experiment's live job (queued or leased), so no worker leases a job whose
 * experiment is gone; a leased attempt's job token stops working at once (its lease is no longer live).
 */
async function endLiveJob(deps: CoreDeps, p: Principal, team: string, key: string): Promise<void> {
  if (!deps.jobs) return;
  for (let i = 0; i < 5; i++) {
    const job = await deps.jobs.getJob(team, key);
    if (!job || (job.status !== 'queued' && job.status !== 'leased')) return;
    try {
      await deps.jobs.updateJob(
        team,
        key,
        {
          status: 'stopped',
          finishedAt: deps.now().toISOString(),
          stopRequested: 'kill',
          stopReason: `experiment deleted by ${p.userId}`,
        },
        { status: [job.status], attempt: job.attempt },
      );
      return;
    } catch (err) {
      if (!isStudioError(err, 'E_CONFLICT')) throw err; // raced with a lease or requeue: look again
    }
  }
  throw new StudioError('E_UNAVAILABLE', `the job of ${key} keeps changing; try again`);
}

/**
 * Deletes an experiment's record, artifacts and versions (blobs stay until a GC run frees them: core/gc.ts). Allowed to team admins and
 * to editors who own it; refused while it is running or queued unless `force` (E_CONFLICT). Audited.
 */
export async function deleteExperiment(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  force: boolean,
): Promise<DeleteExperimentResult> {
  requireUserCredential(p, 'delete experiments');
  requireRole(p, team, 'editor');
  assertExperimentKey(key);
  const exp = await deps.experiments.getExperiment(team, key);
  if (!exp) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  requireAnswerable(p, team, exp, 'delete');
  if ((exp.status === 'running' || exp.status === 'queued') && !force) {
    throw new StudioError('E_CONFLICT', `experiment ${key} is ${exp.status}; stop it first or delete with --force`, {
      details: { status: exp.status },
    });
  }
  await endLiveJob(deps, p, team, key);
  const counts = await deps.experiments.deleteExperiment(team, key);
  // Its aliases go with it, so a later experiment under the same key does not inherit names for its versions.
  await deps.aliases?.deleteExperimentAliases(team, key);
  // The ended job goes too, so the key can be queued again (its pending tasks see another job and stand down);
  // its job tokens are revoked first, so none can act on a later job under the same key.
  const job = await deps.jobs?.getJob(team, key);
  if (job) await revokeJobTokens(deps, job);
  await deps.jobs?.deleteJob(team, key, { status: [...JOB_TERMINAL] });
  await recordAudit(deps, p, team, 'experiment.delete', key, {
    ...counts,
    status: exp.status,
    owner: exp.owner,
    forced: force && (exp.status === 'running' || exp.status === 'queued'),
  });
  return { key, status: exp.status, ...counts };
}
