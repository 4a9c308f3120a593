/** Shared pieces of the team and audit API tests: routes, a snapshot of the tables they change, a job token. */
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { homePaths } from '../../src/adapters/local/local-home.ts';
import type { AuditEntry } from '../../src/contract/model.ts';
import type { ListAuditResponse } from '../../src/contract/wire.ts';
import { type CallOptions, createExperiment, type Harness } from './helpers.ts';

const enc = encodeURIComponent;
export const teamRoute = {
  teams: () => '/v1/teams',
  members: (team: string) => `/v1/teams/${enc(team)}/members`,
  member: (team: string, user: string) => `/v1/teams/${enc(team)}/members/${enc(user)}`,
  audit: (q: Record<string, string | number> = {}) => {
    const qs = new URLSearchParams(Object.entries(q).map(([k, v]) => [k, String(v)])).toString();
    return `/v1/audit${qs ? `?${qs}` : ''}`;
  },
  experiment: (key: string, force?: boolean | string) =>
    `/v1/experiments/${enc(key)}${force === undefined ? '' : `?force=${force}`}`,
};

export interface TeamState {
  teams: unknown[];
  memberships: unknown[];
  audit: unknown[];
  experiments: unknown[];
  artifacts: unknown[];
  versions: unknown[];
  tokens: unknown[];
}

/** Every row of the tables team, member, audit and delete routes may change (read-only connection). */
export function teamState(h: Harness): TeamState {
  const db = new Database(homePaths(h.home).db, { readonly: true, fileMustExist: true });
  try {
    const all = (sql: string) => db.prepare(sql).all();
    return {
      teams: all('SELECT * FROM teams ORDER BY id'),
      memberships: all('SELECT * FROM memberships ORDER BY team, user_id'),
      audit: all('SELECT * FROM audit_log ORDER BY team, id'),
      experiments: all('SELECT team, key, status FROM experiments ORDER BY team, key'),
      artifacts: all('SELECT team, experiment, tag, latest_version FROM artifacts ORDER BY team, experiment, tag'),
      versions: all('SELECT team, experiment, tag, version FROM versions ORDER BY team, experiment, tag, version'),
      tokens: all('SELECT id, revoked_at FROM tokens ORDER BY id'),
    };
  } finally {
    db.close();
  }
}

/** The team's audit entries, newest first, read through the API as the local admin (or `opts`). */
export async function auditOf(h: Harness, team: string, opts: CallOptions = {}): Promise<AuditEntry[]> {
  const res = await h.call<ListAuditResponse>('GET', teamRoute.audit({ limit: 1000 }), { team, ...opts });
  expect(res.status, res.text).toBe(200);
  return res.body.entries;
}

/** Every audit row in the database (all teams), parsed. */
export function allAuditRows(h: Harness): AuditEntry[] {
  return (teamState(h).audit as { data: string }[]).map((r) => JSON.parse(r.data) as AuditEntry);
}

/**
 * A live job token for a new queued experiment in `team`: registered queued by `editor`, submitted and leased
 * through the API exactly as `run --queue` and a worker would.
 */
export async function leaseJobToken(h: Harness, key: string, editor: CallOptions): Promise<string> {
  await createExperiment(h, key, { queued: true }, editor);
  const submit = await h.call('POST', `/v1/experiments/${enc(key)}/job`, {
    ...editor,
    body: { queue: 'q-audit', spec: { command: ['true'] } },
  });
  expect(submit.status, submit.text).toBe(201);
  const lease = await h.call<{ lease: { token: string; job: { id: string } } | null }>(
    'POST',
    '/v1/queues/q-audit/lease',
    { ...editor, body: { worker: { id: 'w1' }, waitSeconds: 0 } },
  );
  expect(lease.status, lease.text).toBe(200);
  expect(lease.body.lease?.job.id).toBe(key);
  return lease.body.lease?.token as string;
}
