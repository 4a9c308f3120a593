import { StudioError } from '../contract/errors.ts';
import type { LineageEntry, Principal } from '../contract/model.ts';
import { assertExperimentKey } from '../contract/names.ts';
import { requireRole } from './authz.ts';
import type { CoreDeps } from './context.ts';

/** How many experiments a reverse-lineage lookup reads at most (newest first, none older than the source). */
export const CONSUMER_SCAN_LIMIT = 10_000;

export interface Consumer {
  experiment: string;
  status: string;
  createdAt: string;
  /** The lineage entries that point at the source experiment. */
  reused: LineageEntry[];
}

/**
 * Which experiments reused artifacts of `key` (lineage the other way). Lineage is stored on the consumer only, so
 * this reads the experiments created after the source, newest first, up to CONSUMER_SCAN_LIMIT; `complete` says
 * whether every candidate was read.
 */
export async function findConsumers(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
): Promise<{ consumers: Consumer[]; complete: boolean }> {
  requireRole(p, team, 'viewer');
  assertExperimentKey(key);
  const source = await deps.meta.getExperiment(team, key);
  if (!source) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  const consumers: Consumer[] = [];
  let after: { createdAt: string; key: string } | undefined;
  let scanned = 0;
  while (scanned < CONSUMER_SCAN_LIMIT) {
    const rows = await deps.meta.listExperiments(team, { after, limit: 1000 });
    for (const e of rows) {
      // A consumer is registered after its source; older rows cannot point at it.
      if (e.createdAt < source.createdAt) return { consumers, complete: true };
      const reused = e.lineage.filter((l) => l.experiment === key);
      if (reused.length) consumers.push({ experiment: e.key, status: e.status, createdAt: e.createdAt, reused });
    }
    scanned += rows.length;
    const last = rows[rows.length - 1];
    if (rows.length < 1000 || !last) return { consumers, complete: true };
    after = { createdAt: last.createdAt, key: last.key };
  }
  return { consumers, complete: false };
}
