import { StudioError } from '../contract/errors.ts';
import type { ExperimentRecord, ExperimentStatus, Principal } from '../contract/model.ts';
import type { ExperimentSummary } from '../contract/wire.ts';
import { requireRole } from './authz.ts';
import type { CoreDeps } from './context.ts';
import { settleLease } from './run-lease.ts';

export const EXPERIMENT_STATUSES: readonly ExperimentStatus[] = [
  'queued',
  'running',
  'finished',
  'failed',
  'stopped',
  'lost',
  'expired',
];

/** Rows a text search reads per request at most: the page may come back short, with a cursor to read on. */
export const TEXT_SCAN_LIMIT = 5_000;

export interface ExperimentPageQuery {
  project?: string | undefined;
  status?: ExperimentStatus | undefined;
  owner?: string | undefined;
  /** Case-insensitive substring of key, project, owner, host or command. */
  text?: string | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface ExperimentPage {
  experiments: ExperimentSummary[];
  /** Pass as `cursor` for the next page; null at the end. */
  nextCursor: string | null;
}

type Position = { createdAt: string; key: string };

/** Opaque cursor: the last row's position in the list order. */
export function encodeCursor(p: Position): string {
  return Buffer.from(JSON.stringify([p.createdAt, p.key])).toString('base64url');
}

/** Throws E_BAD_REQUEST for a cursor this server did not make. */
export function decodeCursor(s: string): Position {
  try {
    const v = JSON.parse(Buffer.from(s, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(v) && v.length === 2 && typeof v[0] === 'string' && typeof v[1] === 'string') {
      return { createdAt: v[0], key: v[1] };
    }
  } catch {
    // reported below
  }
  throw new StudioError('E_BAD_REQUEST', 'invalid cursor');
}

function matches(e: ExperimentRecord, needle: string): boolean {
  const hay = [e.key, e.project ?? '', e.owner, e.host ?? '', e.command.join(' ')].join('\n').toLowerCase();
  return hay.includes(needle);
}

/**
 * One page of a team's experiments, newest first. Project, status and owner are filtered by the store (indexed);
 * text is matched here, reading at most TEXT_SCAN_LIMIT rows per request (neither SQLite's index nor Firestore
 * can answer a substring query), so a text page may be short and still carry a cursor.
 */
export async function listExperimentPage(
  deps: CoreDeps,
  p: Principal,
  team: string,
  q: ExperimentPageQuery,
): Promise<ExperimentPage> {
  requireRole(p, team, 'viewer');
  // 1000 without a limit: what the API answered before it had pages (the CLI's `experiments` relies on it).
  const limit = Math.min(Math.max(q.limit ?? 1000, 1), 10_000);
  let after = q.cursor ? decodeCursor(q.cursor) : undefined;
  const base = { project: q.project, status: q.status, owner: q.owner };
  const needle = q.text?.trim().toLowerCase();
  const found: ExperimentRecord[] = [];
  let nextCursor: string | null = null;
  if (!needle) {
    // One row more than asked tells whether another page exists.
    const rows = await deps.meta.listExperiments(team, { ...base, after, limit: limit + 1 });
    found.push(...rows.slice(0, limit));
    const last = found[found.length - 1];
    if (rows.length > limit && last) nextCursor = encodeCursor(last);
  } else {
    let scanned = 0;
    while (found.length < limit && scanned < TEXT_SCAN_LIMIT) {
      const batch = Math.min(1000, TEXT_SCAN_LIMIT - scanned);
      const rows = await deps.meta.listExperiments(team, { ...base, after, limit: batch });
      let i = 0;
      for (; i < rows.length && found.length < limit; i++) {
        const row = rows[i] as ExperimentRecord;
        if (matches(row, needle)) found.push(row);
        after = { createdAt: row.createdAt, key: row.key };
      }
      scanned += i;
      if (rows.length < batch && i === rows.length) {
        after = undefined; // end of the list
        break;
      }
    }
    if (after) nextCursor = encodeCursor(after);
  }
  // A run whose lease lapsed is answered (and stored) as lost (core/run-lease.ts).
  const settled = await Promise.all(found.map((e) => settleLease(deps, e)));
  const experiments = await Promise.all(
    settled.map(async (e) => ({
      ...e,
      artifacts: (await deps.meta.listArtifacts(team, e.key)).map((a) => ({
        tag: a.tag,
        mutable: a.mutable,
        latestVersion: a.latestVersion,
      })),
    })),
  );
  return { experiments, nextCursor };
}
