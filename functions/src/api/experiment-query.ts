import { StudioError } from '../contract/errors.ts';
import type { ExperimentStatus } from '../contract/model.ts';
import { EXPERIMENT_STATUSES, type ExperimentPageQuery } from '../core/experiment-list.ts';

/** GET /v1/experiments?project&status&owner&q&limit&cursor -> the core's page query. Throws E_BAD_REQUEST. */
export function experimentPageQuery(url: URL): ExperimentPageQuery {
  const s = url.searchParams;
  const limit = s.has('limit') ? Number(s.get('limit')) : undefined;
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new StudioError('E_BAD_REQUEST', 'limit must be a positive integer');
  }
  const status = s.get('status') || undefined;
  if (status !== undefined && !(EXPERIMENT_STATUSES as readonly string[]).includes(status)) {
    throw new StudioError('E_BAD_REQUEST', `unknown status "${status}" (${EXPERIMENT_STATUSES.join(', ')})`);
  }
  const text = s.get('q') ?? undefined;
  if (text !== undefined && text.length > 200)
    throw new StudioError('E_BAD_REQUEST', 'q is longer than 200 characters');
  return {
    project: s.get('project') || undefined,
    status: status as ExperimentStatus | undefined,
    owner: s.get('owner') || undefined,
    text,
    limit,
    cursor: s.get('cursor') || undefined,
  };
}
