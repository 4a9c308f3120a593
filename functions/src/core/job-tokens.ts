import type { JobRecord } from '../contract/job-model.ts';
import type { CoreDeps } from './context.ts';

/**
 * Revokes the job tokens of a job's attempts (all of them, or one): a lease that ends, however it ends (completed,
 * expired and requeued, lost, stopped, its experiment deleted), takes its token with it. Every request also checks
 * the lease is live for the token's job instance (requireLiveJob); revocation keeps the token dead for good.
 */
export async function revokeJobTokens(deps: CoreDeps, job: JobRecord, attempt?: number): Promise<void> {
  const at = deps.now().toISOString();
  for (const h of job.history) {
    if (h.tokenId && (attempt === undefined || h.attempt === attempt)) await deps.meta.revokeToken(h.tokenId, at);
  }
}
