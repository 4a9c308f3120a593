/**
 * The authorization matrix of the v1 API (issue 4): every route × every kind of credential -> the exact HTTP status
 * and error code. MATRIX is the single source of truth: the local backend (functions/test/api/authz-matrix.test.ts)
 * and the bundled Cloud Function on the emulators (functions/test/gcp/authz-matrix.test.ts) both run every cell of
 * it, and docs/security.md publishes renderMatrix() between `<!-- authz-matrix:begin -->` and
 * `<!-- authz-matrix:end -->` (a test keeps them equal; `UPDATE_DOCS=1` rewrites the docs).
 *
 * Each cell sends one valid request (fresh fixtures where a success would consume state: create, delete, finish,
 * stop, lease, complete, member changes...), so the credential is the only thing that can fail it and every cell is
 * independent of the others. A refused cell must answer exactly `{error: {code, message}}` with the expected code and
 * change nothing: the route's own probe (what it could have written, plus the head of both teams' audit logs) is
 * equal before and after, and so is the host's whole-store snapshot when it offers one (local: every SQLite table
 * and every stored file). An allowed cell must answer the expected status, do what the route does (a per-route
 * check) and, for writing routes, really change its probe.
 */
import { createHash, randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/contract/errors.ts';
import type { Role } from '../../src/contract/model.ts';
import { blobRequest, type SignedRequest } from '../../src/contract/transfer.ts';
import type { PlannedPack } from '../../src/contract/wire.ts';
import type { AuditLog, JobStore, MetadataPorts } from '../../src/core/ports.ts';
import { mintToken } from '../../src/core/tokens.ts';

// ---------------------------------------------------------------------------------------------------------------
// Credentials (the columns)
// ---------------------------------------------------------------------------------------------------------------

export const CREDS = [
  'none',
  'malformed',
  'expired',
  'revoked',
  'otherTeam',
  'viewer',
  'editor',
  'admin',
  'worker',
  'jobOther',
  'basic',
  'unknown',
  'noTeam',
  'readOnly',
  'job',
] as const;
export type Cred = (typeof CREDS)[number];

/** Credentials a host mints itself (people and broken tokens); the runner mints worker and job tokens through the API. */
export type HostCred = Exclude<Cred, 'worker' | 'jobOther' | 'job'>;

export const CRED_LEGEND: Record<Cred, string> = {
  none: 'no `Authorization` header',
  malformed: '`Bearer not-a-token`',
  expired:
    'an admin of the team whose credential expired (local: personal token; Cloud Function: Firebase ID token past `exp`)',
  revoked: 'a revoked personal token of an admin of the team',
  otherTeam: 'an admin of another team, sending `X-Studio-Team: <the team>`',
  viewer: 'a viewer of the team (local: personal token; Cloud Function: Firebase ID token)',
  editor: 'an editor of the team (as viewer)',
  admin: 'an admin of the team (as viewer)',
  worker: 'a worker token of the team for queue `q` (`POST /v1/worker-tokens`)',
  jobOther: 'the live job token of another experiment of the team (from a real lease)',
  basic: '`Basic …` (not a bearer scheme)',
  unknown: 'a well-formed `slt_` token the server never minted',
  noTeam: 'a signed-in person without any team (Cloud Function: Firebase ID token)',
  readOnly: 'a personal token with scope `read` of an admin of the team (acts as a viewer)',
  job: "the live job token of the target experiment (its own job; for team and token routes: the shared job's)",
};

// ---------------------------------------------------------------------------------------------------------------
// Expectations (the cells)
// ---------------------------------------------------------------------------------------------------------------

export type Host = 'local' | 'gcp';
export interface Expect {
  status: number;
  code?: ErrorCode;
}
/** One expectation, or one per host where the hosts legitimately differ. */
export type Cell = Expect | { local: Expect; gcp: Expect };

export interface Row {
  method: 'GET' | 'POST' | 'PUT' | 'DELETE';
  path: string;
  /** Which variant of the route (e.g. whose experiment is deleted). */
  note: string;
  cells: Cell[];
}

const U: Expect = { status: 401, code: 'E_UNAUTHENTICATED' };
const X: Expect = { status: 401, code: 'E_TOKEN_EXPIRED' };
const F: Expect = { status: 403, code: 'E_FORBIDDEN' };
const N: Expect = { status: 404, code: 'E_NOT_FOUND' };
const OK: Expect = { status: 200 };
const NEW: Expect = { status: 201 };

const row = (method: Row['method'], path: string, note: string, cells: Cell[]): Row => ({ method, path, note, cells });
/** Web sign-in codes exist on the local backend only; a deployment signs people in with Google. */
const C: Cell = { local: NEW, gcp: { status: 503, code: 'E_UNAVAILABLE' } };
/** Trading a code: any (or no) credential; a deployment has no code store. */
const S: Cell = { local: OK, gcp: { status: 503, code: 'E_UNAVAILABLE' } };

// biome-ignore format: the matrix is a table
export const MATRIX: readonly Row[] = [
  //                                                                              none malformed expired revoked otherTeam viewer editor admin worker jobOther basic unknown noTeam readOnly job
  row('GET',    '/v1/auth/config',                                    'public',     [OK,  OK,       OK,     OK,     OK,       OK,    OK,    OK,   OK,    OK,      OK,   OK,     OK,    OK,      OK ]),
  row('GET',    '/v1/whoami',                                         '',           [U,   U,        X,      U,      F,        OK,    OK,    OK,   OK,    OK,      U,    U,      OK,    OK,      OK ]),
  row('POST',   '/v1/experiments',                                    '',           [U,   U,        X,      U,      F,        F,     NEW,   NEW,  F,     F,       U,    U,      F,     F,       F  ]),
  row('GET',    '/v1/experiments',                                    '',           [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      F  ]),
  row('GET',    '/v1/experiments/:key',                               '',           [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      OK ]),
  row('POST',   '/v1/experiments/:key/finish',                        '',           [U,   U,        X,      U,      F,        F,     OK,    OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('POST',   '/v1/experiments/:key/heartbeat',                     '',           [U,   U,        X,      U,      F,        F,     OK,    OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('DELETE', '/v1/experiments/:key',                               "another's",  [U,   U,        X,      U,      F,        F,     F,     OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('DELETE', '/v1/experiments/:key',                               'own',        [U,   U,        X,      U,      F,        F,     OK,    OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('POST',   '/v1/experiments/:key/artifacts/:tag/uploads',        '',           [U,   U,        X,      U,      F,        F,     OK,    OK,   F,     F,       U,    U,      F,     F,       OK ]),
  row('POST',   '/v1/experiments/:key/artifacts/:tag/packs',          '',           [U,   U,        X,      U,      F,        F,     OK,    OK,   F,     F,       U,    U,      F,     F,       OK ]),
  row('POST',   '/v1/experiments/:key/artifacts/:tag/versions',       '',           [U,   U,        X,      U,      F,        F,     NEW,   NEW,  F,     F,       U,    U,      F,     F,       NEW]),
  row('GET',    '/v1/experiments/:key/artifacts/:tag/versions/:v',    '',           [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      OK ]),
  row('POST',   '/v1/experiments/:key/artifacts/:tag/versions/:v/downloads', '',    [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      OK ]),
  row('GET',    '/v1/experiments/:key/artifacts/:tag/versions/:v',    ':v an alias', [U,  U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      OK ]),
  row('GET',    '/v1/experiments/:key/artifacts/:tag/aliases',        '',           [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      OK ]),
  row('PUT',    '/v1/experiments/:key/artifacts/:tag/aliases/:name',  'new alias',  [U,   U,        X,      U,      F,        F,     NEW,   NEW,  F,     F,       U,    U,      F,     F,       NEW]),
  row('PUT',    '/v1/experiments/:key/artifacts/:tag/aliases/:name',  'move',       [U,   U,        X,      U,      F,        F,     OK,    OK,   F,     F,       U,    U,      F,     F,       OK ]),
  row('DELETE', '/v1/experiments/:key/artifacts/:tag/aliases/:name',  '',           [U,   U,        X,      U,      F,        F,     OK,    OK,   F,     F,       U,    U,      F,     F,       OK ]),
  row('PUT',    '/v1/experiments/:key/push',                          'new key',    [U,   U,        X,      U,      F,        F,     NEW,   NEW,  F,     F,       U,    U,      F,     F,       F  ]),
  row('PUT',    '/v1/experiments/:key/push',                          "another's push", [U, U,      X,      U,      F,        F,     F,     OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('POST',   '/v1/experiments/:key/push/versions',                 'own push',   [U,   U,        X,      U,      F,        F,     NEW,   NEW,  F,     F,       U,    U,      F,     F,       F  ]),
  row('POST',   '/v1/experiments/:key/push/complete',                 'own push',   [U,   U,        X,      U,      F,        F,     OK,    OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('POST',   '/v1/tokens',                                         'scope *',    [U,   U,        X,      U,      NEW,      NEW,   NEW,   NEW,  F,     F,       U,    U,      NEW,   F,       F  ]),
  row('GET',    '/v1/tokens',                                         '',           [U,   U,        X,      U,      OK,       OK,    OK,    OK,   F,     F,       U,    U,      OK,    OK,      F  ]),
  row('GET',    '/v1/tokens',                                         '?team=: team tokens', [U, U,   X,      U,      F,        F,     F,     OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('DELETE', '/v1/tokens/:id',                                     'own',        [U,   U,        X,      U,      OK,       OK,    OK,    OK,   F,     F,       U,    U,      OK,    F,       F  ]),
  row('DELETE', '/v1/tokens/:id',                                     "another's",  [U,   U,        X,      U,      N,        N,     N,     N,    F,     F,       U,    U,      N,     N,       F  ]),
  row('DELETE', '/v1/tokens/:id',                                     "a team worker token", [U, U,   X,      U,      N,        N,     N,     OK,   F,     F,       U,    U,      N,     N,       F  ]),
  row('POST',   '/v1/worker-tokens',                                  '',           [U,   U,        X,      U,      F,        F,     F,     NEW,  F,     F,       U,    U,      F,     F,       F  ]),
  row('POST',   '/v1/experiments/:key/job',                           '',           [U,   U,        X,      U,      F,        F,     NEW,   NEW,  F,     F,       U,    U,      F,     F,       F  ]),
  row('GET',    '/v1/experiments/:key/job',                           '',           [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      OK ]),
  row('POST',   '/v1/experiments/:key/stop',                          '',           [U,   U,        X,      U,      F,        F,     OK,    OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('POST',   '/v1/queues/:queue/lease',                            '',           [U,   U,        X,      U,      F,        F,     OK,    OK,   OK,    F,       U,    U,      F,     F,       F  ]),
  row('POST',   '/v1/jobs/:id/heartbeat',                             '',           [U,   U,        X,      U,      F,        F,     F,     F,    F,     F,       U,    U,      F,     F,       OK ]),
  row('POST',   '/v1/jobs/:id/complete',                              '',           [U,   U,        X,      U,      F,        F,     F,     F,    F,     F,       U,    U,      F,     F,       OK ]),
  row('GET',    '/v1/jobs',                                           '',           [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      F  ]),
  row('POST',   '/v1/teams',                                          '',           [U,   U,        X,      U,      NEW,      NEW,   NEW,   NEW,  F,     F,       U,    U,      NEW,   F,       F  ]),
  row('GET',    '/v1/teams',                                          '',           [U,   U,        X,      U,      OK,       OK,    OK,    OK,   F,     F,       U,    U,      OK,    OK,      F  ]),
  row('GET',    '/v1/teams/:team/members',                            '',           [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      F  ]),
  row('PUT',    '/v1/teams/:team/members/:user',                      'new member', [U,   U,        X,      U,      F,        F,     F,     NEW,  F,     F,       U,    U,      F,     F,       F  ]),
  row('DELETE', '/v1/teams/:team/members/:user',                      'another',    [U,   U,        X,      U,      F,        F,     F,     OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('DELETE', '/v1/teams/:team/members/:user',                      'self',       [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('DELETE', '/v1/teams/:team/members/:user',                      'an admin with a worker token', [U, U, X, U,  F,        F,     F,     OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('GET',    '/v1/audit',                                          '',           [U,   U,        X,      U,      F,        F,     F,     OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('POST',   '/v1/gc',                                             '',           [U,   U,        X,      U,      F,        F,     F,     OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('GET',    '/v1/retention',                                      '',           [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      F  ]),
  row('PUT',    '/v1/retention',                                      '',           [U,   U,        X,      U,      F,        F,     F,     OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('DELETE', '/v1/retention',                                      '',           [U,   U,        X,      U,      F,        F,     F,     OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('POST',   '/v1/retention/apply',                                '',           [U,   U,        X,      U,      F,        F,     F,     OK,   F,     F,       U,    U,      F,     F,       F  ]),
  row('POST',   '/v1/retention/apply',                                'dryRun',     [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      F  ]),
  row('GET',    '/v1/experiments/:key/reused-by',                     '',           [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      F  ]),
  row('POST',   '/v1/experiments/:key/artifacts/:tag/versions/:v/archive', '',      [U,   U,        X,      U,      F,        OK,    OK,    OK,   F,     F,       U,    U,      F,     OK,      OK ]),
  row('GET',    '/v1/archives/:link/:name',                           'no credential needed', [OK, OK, OK,   OK,     OK,       OK,    OK,    OK,   OK,    OK,      OK,   OK,     OK,    OK,      OK ]),
  row('POST',   '/v1/ui/signin-codes',                                '',           [U,   U,        X,      U,      C,        C,     C,     C,    F,     F,       U,    U,      C,     C,       F  ]),
  row('POST',   '/v1/ui/session',                                     'fresh code', [S,   S,        S,      S,      S,        S,     S,     S,    S,     S,       S,    S,     S,     S,       S  ]),
  row('POST',   '/v1/ui/logout',                                      'bearer',     [U,   U,        X,      U,      OK,       OK,    OK,    OK,   OK,    OK,      U,    U,      OK,    OK,      OK ]),
];

export function rowId(r: Row): string {
  return `${r.method} ${r.path}${r.note ? ` (${r.note})` : ''}`;
}

export function expectationFor(cell: Cell, host: Host): Expect {
  return 'local' in cell ? cell[host] : cell;
}

/** A concrete path of a row (placeholders filled), e.g. to check which handler route it reaches. */
export function samplePath(r: Row): string {
  return r.path.replace(/:v\b/, '1').replace(/:([a-z]+)/g, 'x-$1');
}

// ---------------------------------------------------------------------------------------------------------------
// Publishing (docs/security.md)
// ---------------------------------------------------------------------------------------------------------------

export const DOCS_BEGIN = '<!-- authz-matrix:begin -->';
export const DOCS_END = '<!-- authz-matrix:end -->';

const CODE_MARK: Partial<Record<ErrorCode, string>> = {
  E_UNAUTHENTICATED: '401',
  E_TOKEN_EXPIRED: '401x',
  E_FORBIDDEN: '403',
  E_NOT_FOUND: '404',
};

function cellText(e: Expect): string {
  if (!e.code) return `**${e.status}**`;
  return CODE_MARK[e.code] ?? `${e.status} ${e.code}`;
}

function renderCell(c: Cell): string {
  if (!('local' in c)) return cellText(c);
  const [l, g] = [cellText(c.local), cellText(c.gcp)];
  return l === g ? l : `${l} / ${g}`;
}

/** The legend and the table as markdown (what docs/security.md holds between the markers). */
export function renderMatrix(): string {
  const header = ['route', ...CREDS];
  const rows = MATRIX.map((r) => [
    `\`${r.method} ${r.path}\`${r.note ? ` (${r.note})` : ''}`,
    ...r.cells.map(renderCell),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] as string).length)));
  const line = (cells: string[]) => `| ${cells.map((c, i) => c.padEnd(widths[i] as number)).join(' | ')} |`;
  const perHost = MATRIX.some((r) => r.cells.some((c) => 'local' in c && renderCell(c).includes(' / ')));
  return [
    'Generated from `functions/test/support/authz-matrix.ts` (`MATRIX`); every cell runs against the local backend',
    '(`functions/test/api/authz-matrix.test.ts`) and the bundled Cloud Function on the Firestore, Storage and Auth',
    'emulators (`functions/test/gcp/authz-matrix.test.ts`). Rewrite this block with',
    '`UPDATE_DOCS=1 npx vitest run --project unit functions/test/api/authz-matrix.test.ts`.',
    '',
    'Cells: **200**/**201** allowed (and the route did its work), refused with',
    `${Object.entries(CODE_MARK)
      .map(([code, mark]) => `\`${mark}\` = ${code}`)
      .join(', ')}.`,
    `A refused cell changes nothing (no row, object or audit entry).${
      perHost ? ' `a / b`: local host / Cloud Function.' : ' Both hosts answer every cell alike.'
    }`,
    '',
    'Columns:',
    '',
    ...CREDS.map((c) => `- \`${c}\`: ${CRED_LEGEND[c]}`),
    '',
    line(header),
    `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`,
    ...rows.map(line),
  ].join('\n');
}

/** `doc` with the block between the markers replaced by the current rendering. Throws when a marker is missing. */
export function withPublishedMatrix(doc: string): string {
  const b = doc.indexOf(DOCS_BEGIN);
  const e = doc.indexOf(DOCS_END);
  if (b < 0 || e < b) throw new Error(`docs/security.md lacks the markers ${DOCS_BEGIN} … ${DOCS_END}`);
  return `${doc.slice(0, b)}${DOCS_BEGIN}\n${renderMatrix()}\n${doc.slice(e)}`;
}

// ---------------------------------------------------------------------------------------------------------------
// Hosts and fixtures
// ---------------------------------------------------------------------------------------------------------------

export interface Credential {
  /** The Authorization header value; null sends none. */
  authorization: string | null;
  /** X-Studio-Team header. */
  team?: string;
  /** The user the credential acts for (null for broken credentials). */
  userId: string | null;
}

export interface MatrixHost extends MetadataPorts {
  url: string;
  team: string;
  otherTeam: string;
  jobs: JobStore;
  audit: AuditLog;
  /** An admin personal token of `team` that is not one of the matrix's credentials: fixtures are made with it. */
  root: { token: string; userId: string };
  creds: Record<HostCred, Credential>;
  /** The whole store (every table, every object), compared before and after each refused cell when given. */
  snapshot?: () => Promise<unknown>;
}

export interface Res {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: answers are checked field by field in the route checks
  body: any;
  text: string;
}

export async function callApi(url: string, method: string, path: string, cred: Credential, body?: unknown) {
  const headers: Record<string, string> = {};
  if (cred.authorization !== null) headers.authorization = cred.authorization;
  if (cred.team) headers['x-studio-team'] = cred.team;
  let payload: string | undefined;
  if (body !== undefined) {
    headers['content-type'] = 'application/json';
    payload = JSON.stringify(body);
  }
  const res = await fetch(url + path, { method, headers, body: payload });
  const text = await res.text();
  let parsed: unknown;
  try {
    parsed = text ? JSON.parse(text) : undefined;
  } catch {
    parsed = undefined;
  }
  return { status: res.status, body: parsed, text } as Res;
}

/** An error answer: exactly `{error: {code, message[, details]}}`, the status and code expected, no stack. */
export function expectErrorBody(res: Res, status: number, code: ErrorCode): void {
  const summary = `${res.status} ${res.text.slice(0, 300)}`;
  expect(res.status, summary).toBe(status);
  expect(Object.keys(res.body ?? {}), summary).toEqual(['error']);
  expect(res.body.error.code, summary).toBe(code);
  expect(typeof res.body.error.message, summary).toBe('string');
  for (const k of Object.keys(res.body.error)) expect(['code', 'message', 'details']).toContain(k);
  expect(res.text).not.toMatch(/\n\s+at |node:internal|\.[cm]?[jt]s:\d+:\d+/);
}

const enc = encodeURIComponent;
const blobPath = (key: string, tag: string) => `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}`;

/** What the runner builds once per host: the shared experiment, the worker and job tokens, helpers. */
export class Fixtures {
  readonly run = randomBytes(3).toString('hex');
  private n = 0;
  readonly root: Credential;
  /** Running experiment (a leased job) with artifact `model` version 1 holding `blob`. */
  shared = { key: '', tag: 'model', blob: Buffer.alloc(0), sha: '', jobToken: '' };
  worker: Credential = { authorization: null, userId: null };
  jobOther: Credential = { authorization: null, userId: null };
  readonly queue = 'q';

  constructor(readonly h: MatrixHost) {
    this.root = { authorization: `Bearer ${h.root.token}`, team: h.team, userId: h.root.userId };
  }

  id(prefix: string): string {
    this.n += 1;
    return `${prefix}-${this.run}-${this.n}`;
  }

  cred(c: Cred): Credential {
    if (c === 'worker') return this.worker;
    if (c === 'jobOther') return this.jobOther;
    if (c === 'job') return this.jobCred(this.shared.jobToken);
    return this.h.creds[c];
  }

  jobCred(token: string): Credential {
    return { authorization: `Bearer ${token}`, userId: this.h.root.userId };
  }

  /** A call as root that must succeed. */
  async ok(method: string, path: string, body?: unknown, as: Credential = this.root): Promise<Res> {
    const res = await callApi(this.h.url, method, path, as, body);
    if (res.status < 200 || res.status > 299) throw new Error(`fixture ${method} ${path}: ${res.status} ${res.text}`);
    return res;
  }

  async running(key = this.id('run')): Promise<string> {
    await this.ok('POST', '/v1/experiments', { key });
    return key;
  }

  async queued(key = this.id('queued')): Promise<string> {
    await this.ok('POST', '/v1/experiments', { key, queued: true });
    return key;
  }

  /** Submits the queued experiment `key` to `queue`. */
  async submit(key: string, queue: string): Promise<void> {
    await this.ok('POST', `/v1/experiments/${enc(key)}/job`, { queue, spec: { command: ['true'] } });
  }

  /** A queued experiment submitted to a queue of its own and leased by root: its key and live job token. */
  async leased(prefix = 'leased'): Promise<{ key: string; token: string }> {
    const key = await this.queued(this.id(prefix));
    const queue = this.id('fx');
    await this.submit(key, queue);
    const res = await this.ok('POST', `/v1/queues/${queue}/lease`, { worker: { id: 'fixture' }, waitSeconds: 0 });
    if (res.body.lease?.job?.id !== key) throw new Error(`fixture lease of ${key}: ${res.text}`);
    return { key, token: res.body.lease.token as string };
  }

  /** Plans, uploads (through the signed requests) and commits `files` as a version of key/tag. */
  async publish(key: string, tag: string, files: { path: string; data: Buffer }[], as = this.root): Promise<void> {
    const bySha = new Map(files.map((f) => [sha256(f.data), f.data]));
    const plan = await this.ok(
      'POST',
      `${blobPath(key, tag)}/uploads`,
      { blobs: [...bySha].map(([sha, d]) => ({ sha256: sha, size: d.length })) },
      as,
    );
    for (const u of plan.body.uploads as { sha256: string; request: SignedRequest }[]) {
      const r = await sendSigned(u.request, bySha.get(u.sha256));
      if (r.status !== 200 && r.status !== 201) throw new Error(`fixture upload: ${r.status} ${await r.text()}`);
    }
    for (const p of plan.body.packs as PlannedPack[]) await this.uploadPack(key, tag, p, bySha, as);
    await this.ok('POST', `${blobPath(key, tag)}/versions`, { mutable: true, manifest: manifestOf(files) }, as);
  }

  /** PUTs a planned pack's members (concatenated in order) and registers it (unless `register` is false). */
  async uploadPack(
    key: string,
    tag: string,
    p: PlannedPack,
    bySha: Map<string, Buffer>,
    as = this.root,
    register = true,
  ): Promise<void> {
    const r = await sendSigned(p.request, Buffer.concat(p.members.map((m) => bySha.get(m.sha256) as Buffer)));
    if (r.status !== 200 && r.status !== 201) throw new Error(`fixture pack upload: ${r.status} ${await r.text()}`);
    if (register) await this.ok('POST', `${blobPath(key, tag)}/packs`, packRegistration(p), as);
  }

  /**
   * A pack of `files` planned for key/tag and uploaded, not registered yet (as `as`): what a registration needs. Its
   * members are fresh blobs nobody has.
   */
  async uploadedPack(key: string, tag: string, as = this.root): Promise<PlannedPack> {
    const datas = [Buffer.from(`${this.id('member')}\n`), Buffer.from(`${this.id('member')}\n`)];
    const bySha = new Map(datas.map((d) => [sha256(d), d]));
    const plan = await this.ok(
      'POST',
      `${blobPath(key, tag)}/uploads`,
      { blobs: [...bySha].map(([sha, d]) => ({ sha256: sha, size: d.length })) },
      as,
    );
    const p = plan.body.packs[0] as PlannedPack | undefined;
    if (!p || plan.body.packs.length !== 1) throw new Error(`fixture pack plan: ${plan.text}`);
    await this.uploadPack(key, tag, p, bySha, as, false);
    return p;
  }

  /** A user with these memberships (created directly: a client cannot create users). */
  async user(prefix: string, teams: Record<string, Role> = {}): Promise<string> {
    const id = this.id(prefix);
    await this.h.accounts.putUser({ id, name: id, createdAt: new Date().toISOString() });
    for (const [team, role] of Object.entries(teams)) await this.h.accounts.setMembership(team, id, role);
    return id;
  }

  /** A personal token of `userId` (its id). */
  async tokenOf(userId: string): Promise<string> {
    const { record } = await mintToken(this.h, {
      userId,
      kind: 'personal',
      scopes: ['*'],
      expiresAt: new Date(Date.now() + 3600_000),
      now: new Date(),
    });
    return record.id;
  }

  /** A worker token of `userId` bound to the team (its id), made directly. */
  async workerTokenOf(userId: string): Promise<string> {
    const { record } = await mintToken(this.h, {
      userId,
      kind: 'worker',
      scopes: ['queue:q'],
      expiresAt: new Date(Date.now() + 3600_000),
      now: new Date(),
      binding: { team: this.h.team, queue: 'q' },
    });
    return record.id;
  }

  /** An experiment record made directly (any owner, any status; e.g. someone else's finished run). */
  async experimentOwnedBy(owner: string, status: 'finished' | 'running' = 'finished'): Promise<string> {
    const key = this.id('owned');
    const now = new Date().toISOString();
    await this.h.experiments.createExperiment({
      team: this.h.team,
      key,
      project: null,
      owner,
      status,
      command: [],
      cwd: null,
      host: null,
      git: null,
      createdAt: now,
      startedAt: now,
      finishedAt: status === 'finished' ? now : null,
      exitCode: status === 'finished' ? 0 : null,
      signal: null,
      warnings: [],
      lineage: [],
    });
    return key;
  }

  /** Newest audit entry id of both teams (a refused request must not append one). */
  async auditHeads(): Promise<(string | null)[]> {
    return Promise.all(
      [this.h.team, this.h.otherTeam].map(async (t) => (await this.h.audit.list(t, { limit: 1 }))[0]?.id ?? null),
    );
  }

  async tokensOf(userId: string | null): Promise<unknown[]> {
    if (!userId) return [];
    return (await this.h.tokens.listTokens(userId)).map((t) => [t.id, t.revokedAt]);
  }

  /** Sets up the shared fixtures through the API (as root) and the worker and jobOther credentials. */
  async setup(): Promise<void> {
    this.shared.blob = Buffer.from(`team data outsiders must not see ${this.run}\n`);
    this.shared.sha = sha256(this.shared.blob);
    const key = await this.queued(this.id('shared'));
    await this.publish(key, this.shared.tag, [{ path: 'data.txt', data: this.shared.blob }]);
    const sq = this.id('fx');
    await this.submit(key, sq);
    const lease = await this.ok('POST', `/v1/queues/${sq}/lease`, { worker: { id: 'shared' }, waitSeconds: 0 });
    this.shared.key = key;
    this.shared.jobToken = lease.body.lease.token;
    const other = await this.leased('job-other');
    this.jobOther = this.jobCred(other.token);
    const w = await this.ok('POST', '/v1/worker-tokens', { queue: this.queue, expiresInSeconds: 3600 });
    this.worker = { authorization: `Bearer ${w.body.secret}`, userId: this.h.root.userId };
  }
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

export function manifestOf(files: { path: string; data: Buffer }[]) {
  return {
    files: files.map((f) => ({ path: f.path, size: f.data.length, sha256: sha256(f.data), mode: 0o644, mtime: 1 })),
  };
}

/** The body of `POST …/artifacts/:tag/packs` for a planned pack. */
export function packRegistration(p: Pick<PlannedPack, 'id' | 'nonce' | 'members'>) {
  return { id: p.id, nonce: p.nonce, members: p.members };
}

export function sendSigned(req: SignedRequest, body?: Uint8Array): Promise<Response> {
  return fetch(req.url, {
    method: req.method,
    headers: req.headers,
    body: body === undefined ? undefined : Buffer.from(body),
  });
}

// ---------------------------------------------------------------------------------------------------------------
// One valid request per row
// ---------------------------------------------------------------------------------------------------------------

interface Prepared {
  path: string;
  body?: unknown;
  /** Another credential than the column's (the `job` column's own job on consuming routes). */
  as?: Credential;
  /** What the request could change; compared before/after. */
  probe?: () => Promise<unknown>;
  /** For an allowed cell: the route did its work. */
  check?: (res: Res) => Promise<void> | void;
  /** Undo what an allowed cell did that would change later cells (e.g. a new team membership). */
  cleanup?: () => Promise<void>;
}

interface Spec {
  /** true: an allowed cell must change the probe. false: no cell may. */
  writes: boolean;
  prepare(fx: Fixtures, cred: Cred, as: Credential): Promise<Prepared>;
}

const exp = (key: string) => `/v1/experiments/${enc(key)}`;
const member = (team: string, user: string) => `/v1/teams/${enc(team)}/members/${enc(user)}`;

const SPECS: Record<string, Spec> = {
  'GET /v1/auth/config (public)': {
    writes: false,
    prepare: async () => ({
      path: '/v1/auth/config',
      check: (res) => expect(res.body).toHaveProperty('firebase'),
    }),
  },
  'GET /v1/whoami': {
    writes: false,
    prepare: async (fx, cred) => ({
      path: '/v1/whoami',
      check: (res) => expect(res.body.team).toBe(cred === 'noTeam' ? null : fx.h.team),
    }),
  },
  'POST /v1/experiments': {
    writes: true,
    prepare: async (fx, _cred, as) => {
      const key = fx.id('new');
      return {
        path: '/v1/experiments',
        body: { key },
        probe: () => Promise.all([fx.h.team, fx.h.otherTeam].map((t) => fx.h.experiments.getExperiment(t, key))),
        check: (res) => expect(res.body.experiment).toMatchObject({ key, team: fx.h.team, owner: as.userId }),
      };
    },
  },
  'GET /v1/experiments': {
    writes: false,
    prepare: async (fx) => ({
      path: '/v1/experiments',
      check: (res) => expect(res.body.experiments.map((e: { key: string }) => e.key)).toContain(fx.shared.key),
    }),
  },
  'GET /v1/experiments/:key': {
    writes: false,
    prepare: async (fx) => ({
      path: exp(fx.shared.key),
      check: (res) => expect(res.body.artifacts[0]?.tag).toBe(fx.shared.tag),
    }),
  },
  'POST /v1/experiments/:key/finish': {
    writes: true,
    prepare: async (fx, cred) => {
      const own = cred === 'job' ? await fx.leased('finish') : null;
      const key = own?.key ?? (await fx.running());
      return {
        path: `${exp(key)}/finish`,
        body: { status: 'finished', exitCode: 0 },
        ...(own ? { as: fx.jobCred(own.token) } : {}),
        probe: async () => (await fx.h.experiments.getExperiment(fx.h.team, key))?.status,
        check: async () => expect((await fx.h.experiments.getExperiment(fx.h.team, key))?.status).toBe('finished'),
      };
    },
  },
  'POST /v1/experiments/:key/heartbeat': {
    writes: true,
    prepare: async (fx) => {
      const key = await fx.running();
      // The lease the run got at creation, moved back so that a renewal always changes it.
      await fx.h.experiments.updateExperiment(fx.h.team, key, { leaseExpiresAt: '2000-01-01T00:00:00.000Z' });
      return {
        path: `${exp(key)}/heartbeat`,
        body: { attempt: 1 },
        probe: async () => (await fx.h.experiments.getExperiment(fx.h.team, key))?.leaseExpiresAt,
        check: async (res) => {
          expect(res.body.status).toBe('running');
          expect(Date.parse(res.body.leaseExpiresAt)).toBeGreaterThan(Date.now());
        },
      };
    },
  },
  "DELETE /v1/experiments/:key (another's)": {
    writes: true,
    prepare: async (fx, cred) => {
      const own = cred === 'job' ? await fx.leased('delete') : null;
      const key = own?.key ?? (await fx.experimentOwnedBy(await fx.user('owner', { [fx.h.team]: 'editor' })));
      return deletion(fx, key, own ? fx.jobCred(own.token) : undefined);
    },
  },
  'DELETE /v1/experiments/:key (own)': {
    writes: true,
    prepare: async (fx, cred, as) => {
      // The job column: its own (running) experiment, whose owner is the token's user.
      const own = cred === 'job' ? await fx.leased('delete-own') : null;
      const key = own?.key ?? (await fx.experimentOwnedBy(as.userId ?? 'nobody'));
      return deletion(fx, key, own ? fx.jobCred(own.token) : undefined);
    },
  },
  'POST /v1/experiments/:key/artifacts/:tag/uploads': {
    writes: false,
    prepare: async (fx) => {
      const sha = sha256(fx.id('never-uploaded'));
      return {
        path: `${blobPath(fx.shared.key, fx.shared.tag)}/uploads`,
        body: { blobs: [{ sha256: sha, size: 10 }] },
        probe: async () => [...(await fx.h.blobIndex.findBlobs(fx.h.team, [sha]))],
        check: (res) => {
          expect(res.body.present).toBe(0);
          expect(res.body.uploads.length + res.body.packs.length).toBe(1);
        },
      };
    },
  },
  'POST /v1/experiments/:key/artifacts/:tag/packs': {
    writes: true,
    prepare: async (fx, cred) => {
      // A pack of fresh blobs planned and uploaded by root (the job column: by the job token itself, which the server
      // only lets register what it uploaded through its own plan) for the shared running artifact.
      const as = cred === 'job' ? fx.cred('job') : fx.root;
      const p = await fx.uploadedPack(fx.shared.key, fx.shared.tag, as);
      const shas = p.members.map((m) => m.sha256);
      return {
        path: `${blobPath(fx.shared.key, fx.shared.tag)}/packs`,
        body: packRegistration(p),
        probe: async () => [...(await fx.h.blobIndex.findBlobs(fx.h.team, shas))],
        check: async (res) => {
          expect(res.body).toEqual({ id: p.id, members: p.members.length });
          const found = await fx.h.blobIndex.findBlobs(fx.h.team, shas);
          for (const [i, m] of p.members.entries()) {
            const offset = p.members.slice(0, i).reduce((n, x) => n + x.size, 0);
            expect(found.get(m.sha256)).toMatchObject({ size: m.size, verified: true, pack: { id: p.id, offset } });
          }
        },
      };
    },
  },
  'POST /v1/experiments/:key/artifacts/:tag/versions': {
    writes: true,
    prepare: async (fx) => ({
      path: `${blobPath(fx.shared.key, fx.shared.tag)}/versions`,
      body: { mutable: true, manifest: manifestOf([{ path: `${fx.id('file')}.txt`, data: fx.shared.blob }]) },
      probe: async () => (await fx.h.experiments.listVersions(fx.h.team, fx.shared.key, fx.shared.tag)).length,
      check: (res) => expect(res.body.created).toBe(true),
    }),
  },
  'GET /v1/experiments/:key/artifacts/:tag/versions/:v': {
    writes: false,
    prepare: async (fx) => ({
      path: `${blobPath(fx.shared.key, fx.shared.tag)}/versions/1`,
      check: (res) => expect(res.body.version.manifest.files[0]?.sha256).toBe(fx.shared.sha),
    }),
  },
  'GET /v1/experiments/:key/artifacts/:tag/versions/:v (:v an alias)': {
    writes: false,
    prepare: async (fx) => {
      const name = await aliasOnShared(fx);
      return {
        path: `${blobPath(fx.shared.key, fx.shared.tag)}/versions/${name}`,
        check: (res) => expect(res.body.version).toMatchObject({ version: 1, experiment: fx.shared.key }),
      };
    },
  },
  'GET /v1/experiments/:key/artifacts/:tag/aliases': {
    writes: false,
    prepare: async (fx) => {
      const name = await aliasOnShared(fx);
      return {
        path: `${blobPath(fx.shared.key, fx.shared.tag)}/aliases`,
        check: (res) => expect(res.body.aliases).toContainEqual(expect.objectContaining({ name, version: 1 })),
      };
    },
  },
  'PUT /v1/experiments/:key/artifacts/:tag/aliases/:name (new alias)': {
    writes: true,
    prepare: async (fx) => aliasChange(fx, fx.id('a'), { body: { version: 1 }, from: null, to: 1 }),
  },
  'PUT /v1/experiments/:key/artifacts/:tag/aliases/:name (move)': {
    writes: true,
    prepare: async (fx) => {
      const name = await aliasOnShared(fx);
      return aliasChange(fx, name, { body: { version: 1 }, from: 1, to: 1 });
    },
  },
  'DELETE /v1/experiments/:key/artifacts/:tag/aliases/:name': {
    writes: true,
    prepare: async (fx) => aliasChange(fx, await aliasOnShared(fx), { from: 1, to: null }),
  },
  'PUT /v1/experiments/:key/push (new key)': {
    writes: true,
    prepare: async (fx, _cred, as) => {
      const key = fx.id('push');
      return {
        path: `${exp(key)}/push`,
        body: pushBegin(fx),
        probe: () => Promise.all([fx.h.team, fx.h.otherTeam].map((t) => fx.h.experiments.getExperiment(t, key))),
        check: (res) =>
          expect(res.body).toMatchObject({
            created: true,
            experiment: { key, team: fx.h.team, owner: PUSHED_OWNER, push: { by: as.userId, complete: false } },
          }),
      };
    },
  },
  "PUT /v1/experiments/:key/push (another's push)": {
    writes: true,
    prepare: async (fx, _cred, as) => {
      // Pushed completely by root: only an admin (or its owner, or root itself) may push over it.
      const key = fx.id('pushed');
      const body = pushBegin(fx);
      await fx.ok('PUT', `${exp(key)}/push`, body);
      await fx.ok('POST', `${exp(key)}/push/complete`, pushComplete());
      return {
        path: `${exp(key)}/push`,
        body,
        probe: async () => (await fx.h.experiments.getExperiment(fx.h.team, key))?.push,
        check: (res) => expect(res.body).toMatchObject({ created: false, experiment: { push: { by: as.userId } } }),
      };
    },
  },
  'POST /v1/experiments/:key/push/versions (own push)': {
    writes: true,
    prepare: async (fx, _cred, as) => {
      const key = await openPush(fx, as);
      return {
        path: `${exp(key)}/push/versions`,
        // The shared blob: the team has it, so the version needs no upload.
        body: {
          tag: 'model',
          mutable: true,
          version: 1,
          manifest: manifestOf([{ path: 'data.txt', data: fx.shared.blob }]),
          createdBy: PUSHED_OWNER,
          createdAt: '2024-01-02T04:00:00.000Z',
        },
        probe: async () => (await fx.h.experiments.listVersions(fx.h.team, key, 'model')).length,
        check: (res) =>
          expect(res.body).toMatchObject({ created: true, version: { version: 1, createdBy: PUSHED_OWNER } }),
      };
    },
  },
  'POST /v1/experiments/:key/push/complete (own push)': {
    writes: true,
    prepare: async (fx, _cred, as) => {
      const key = await openPush(fx, as);
      return {
        path: `${exp(key)}/push/complete`,
        body: pushComplete(),
        probe: async () => (await fx.h.experiments.getExperiment(fx.h.team, key))?.push?.complete,
        check: async (res) => {
          expect(res.body.experiment).toMatchObject({ key, status: 'finished', push: { complete: true } });
          const [entry] = await fx.h.audit.list(fx.h.team, { limit: 1 });
          expect(entry).toMatchObject({ action: 'experiment.push', target: key, actor: { userId: as.userId } });
        },
      };
    },
  },
  'POST /v1/experiments/:key/artifacts/:tag/versions/:v/downloads': {
    writes: true, // download.sign is audited
    prepare: async (fx) => ({
      path: `${blobPath(fx.shared.key, fx.shared.tag)}/versions/1/downloads`,
      body: { sha256s: [fx.shared.sha] },
      check: async (res) => {
        // The shared blob is small: a Range of its pack's signed GET (206), exactly its bytes.
        const r = blobRequest(res.body, fx.shared.sha);
        expect(r?.offset).toBeDefined();
        const got = await fetch(r?.url as string, { headers: r?.headers });
        expect(got.status).toBe(206);
        expect(Buffer.from(await got.arrayBuffer()).equals(fx.shared.blob)).toBe(true);
      },
    }),
  },
  'POST /v1/tokens (scope *)': {
    writes: true,
    prepare: async (fx, _cred, as) => ({
      path: '/v1/tokens',
      body: { scopes: ['*'], expiresInSeconds: 3600 },
      probe: () => fx.tokensOf(as.userId),
      check: (res) => expect(res.body.token).toMatchObject({ kind: 'personal', userId: as.userId, scopes: ['*'] }),
    }),
  },
  'GET /v1/tokens': {
    writes: false,
    prepare: async (_fx, _cred, as) => ({
      path: '/v1/tokens',
      check: (res) => {
        expect(res.body.tokens.length).toBeGreaterThan(0);
        for (const t of res.body.tokens) expect(t.userId).toBe(as.userId);
        expect(res.text).not.toMatch(/slt_|"hash"/);
      },
    }),
  },
  'GET /v1/tokens (?team=: team tokens)': {
    writes: false,
    prepare: async (fx) => ({
      path: `/v1/tokens?team=${enc(fx.h.team)}`,
      check: (res) => {
        const kinds = new Set(res.body.tokens.map((t: { kind: string }) => t.kind));
        expect(kinds.has('worker') && kinds.has('job')).toBe(true);
        for (const t of res.body.tokens) expect(t.binding.team).toBe(fx.h.team);
        expect(res.text).not.toMatch(/slt_|"hash"/);
      },
    }),
  },
  'DELETE /v1/tokens/:id (a team worker token)': {
    writes: true,
    prepare: async (fx) => revocation(fx, await fx.workerTokenOf(await fx.user('minter', { [fx.h.team]: 'admin' }))),
  },
  'DELETE /v1/tokens/:id (own)': {
    writes: true,
    prepare: async (fx, _cred, as) => revocation(fx, await fx.tokenOf(as.userId ?? (await fx.user('bystander')))),
  },
  "DELETE /v1/tokens/:id (another's)": {
    writes: false,
    prepare: async (fx) => revocation(fx, await fx.tokenOf(await fx.user('bystander'))),
  },
  'POST /v1/worker-tokens': {
    writes: true,
    prepare: async (fx, _cred, as) => ({
      path: '/v1/worker-tokens',
      body: { queue: 'q2', expiresInSeconds: 3600 },
      probe: async () => [await fx.tokensOf(as.userId), await fx.tokensOf(fx.h.root.userId)],
      check: (res) =>
        expect(res.body.token).toMatchObject({ kind: 'worker', binding: { team: fx.h.team, queue: 'q2' } }),
    }),
  },
  'POST /v1/experiments/:key/job': {
    writes: true,
    prepare: async (fx, cred) => {
      // The job column: its own experiment (which has its job already).
      const key = cred === 'job' ? fx.shared.key : await fx.queued();
      return {
        path: `${exp(key)}/job`,
        body: { queue: fx.id('sub'), spec: { command: ['true'] } },
        probe: () => fx.h.jobs.getJob(fx.h.team, key),
        check: (res) => expect(res.body.job).toMatchObject({ id: key, status: 'queued' }),
      };
    },
  },
  'GET /v1/experiments/:key/job': {
    writes: false,
    prepare: async (fx) => ({
      path: `${exp(fx.shared.key)}/job`,
      check: (res) => expect(res.body.job).toMatchObject({ id: fx.shared.key, status: 'leased' }),
    }),
  },
  'POST /v1/experiments/:key/stop': {
    writes: true,
    prepare: async (fx, cred) => {
      const target = await fx.leased('stop');
      return {
        path: `${exp(target.key)}/stop`,
        body: { mode: 'stop' },
        ...(cred === 'job' ? { as: fx.jobCred(target.token) } : {}),
        probe: async () => (await fx.h.jobs.getJob(fx.h.team, target.key))?.stopRequested,
        check: (res) => expect(res.body.job).toMatchObject({ id: target.key, stopRequested: 'stop' }),
      };
    },
  },
  'POST /v1/queues/:queue/lease': {
    writes: true,
    prepare: async (fx) => {
      // Exactly one queued job waits in queue q (left by a refused cell, or a new one).
      const waiting = await fx.h.jobs.listJobs(fx.h.team, { queue: fx.queue, status: ['queued'] });
      if (waiting.length === 0) await fx.submit(await fx.queued(), fx.queue);
      const probe = async () =>
        (await fx.h.jobs.listJobs(fx.h.team, { queue: fx.queue })).map((j) => [j.id, j.status, j.attempt]);
      return {
        path: `/v1/queues/${fx.queue}/lease`,
        body: { worker: { id: 'matrix' }, waitSeconds: 0 },
        probe,
        check: (res) => expect(res.body.lease?.token).toMatch(/^slt_/),
      };
    },
  },
  'POST /v1/jobs/:id/heartbeat': {
    writes: true,
    prepare: async (fx) => {
      await new Promise((r) => setTimeout(r, 2)); // a new lease deadline differs by at least a millisecond
      return {
        path: `/v1/jobs/${enc(fx.shared.key)}/heartbeat`,
        probe: async () => (await fx.h.jobs.getJob(fx.h.team, fx.shared.key))?.leaseExpiresAt,
        check: (res) => expect(res.body).toMatchObject({ stop: null }),
      };
    },
  },
  'POST /v1/jobs/:id/complete': {
    writes: true,
    prepare: async (fx, cred) => {
      const target = await fx.leased('complete');
      return {
        path: `/v1/jobs/${enc(target.key)}/complete`,
        body: { status: 'finished', exitCode: 0 },
        ...(cred === 'job' ? { as: fx.jobCred(target.token) } : {}),
        probe: async () => {
          const j = await fx.h.jobs.getJob(fx.h.team, target.key);
          return [j?.status, (await fx.h.experiments.getExperiment(fx.h.team, target.key))?.status];
        },
        check: (res) => expect(res.body.job).toMatchObject({ id: target.key, status: 'finished' }),
      };
    },
  },
  'GET /v1/jobs': {
    writes: false,
    prepare: async (fx) => ({
      path: '/v1/jobs',
      check: (res) => {
        expect(res.body.jobs.map((j: { id: string }) => j.id)).toContain(fx.shared.key);
        expect(res.text).not.toMatch(/slt_/);
      },
    }),
  },
  'POST /v1/teams': {
    writes: true,
    prepare: async (fx, _cred, as) => {
      const id = fx.id('team');
      return {
        path: '/v1/teams',
        body: { id },
        probe: async () => [await fx.h.accounts.getTeam(id), await fx.h.accounts.listTeamMembers(id)],
        check: (res) => expect(res.body.team).toMatchObject({ id, createdBy: as.userId }),
        // The new team would make the caller a member of two teams (and change which team it acts in).
        cleanup: async () => {
          if (as.userId) await fx.h.accounts.setMembership(id, as.userId, null);
        },
      };
    },
  },
  'GET /v1/teams': {
    writes: false,
    prepare: async () => ({ path: '/v1/teams', check: (res) => expect(Array.isArray(res.body.teams)).toBe(true) }),
  },
  'GET /v1/teams/:team/members': {
    writes: false,
    prepare: async (fx) => ({
      path: `/v1/teams/${enc(fx.h.team)}/members`,
      check: (res) => expect(res.body.members.map((m: { userId: string }) => m.userId)).toContain(fx.h.root.userId),
    }),
  },
  'PUT /v1/teams/:team/members/:user (new member)': {
    writes: true,
    prepare: async (fx) => {
      const user = await fx.user('joiner');
      return {
        path: member(fx.h.team, user),
        body: { role: 'viewer' },
        probe: () => fx.h.accounts.getMemberships(user),
        check: (res) => expect(res.body).toMatchObject({ changed: true, member: { userId: user, role: 'viewer' } }),
      };
    },
  },
  'DELETE /v1/teams/:team/members/:user (another)': {
    writes: true,
    prepare: async (fx) => {
      const user = await fx.user('leaver', { [fx.h.team]: 'viewer' });
      return {
        path: member(fx.h.team, user),
        probe: () => fx.h.accounts.getMemberships(user),
        check: (res) => expect(res.body).toMatchObject({ userId: user, previousRole: 'viewer' }),
      };
    },
  },
  'DELETE /v1/teams/:team/members/:user (self)': {
    writes: true,
    prepare: async (fx, _cred, as) => {
      const user = as.userId ?? (await fx.user('bystander', { [fx.h.team]: 'viewer' }));
      const role = (await fx.h.accounts.getMemberships(user))[fx.h.team] ?? null;
      return {
        path: member(fx.h.team, user),
        probe: () => fx.h.accounts.getMemberships(user),
        check: (res) => expect(res.body).toMatchObject({ userId: user, previousRole: role }),
        // Every later cell needs the caller's membership back.
        cleanup: async () => {
          if (role && !(await fx.h.accounts.getMemberships(user))[fx.h.team]) {
            await fx.h.accounts.setMembership(fx.h.team, user, role);
          }
        },
      };
    },
  },
  'DELETE /v1/teams/:team/members/:user (an admin with a worker token)': {
    writes: true,
    prepare: async (fx) => {
      const user = await fx.user('minter', { [fx.h.team]: 'admin' });
      const tokenId = await fx.workerTokenOf(user);
      return {
        path: member(fx.h.team, user),
        probe: async () => [await fx.h.accounts.getMemberships(user), (await fx.h.tokens.getToken(tokenId))?.revokedAt],
        check: async (res) => {
          expect(res.body).toMatchObject({ userId: user, previousRole: 'admin' });
          expect((await fx.h.tokens.getToken(tokenId))?.revokedAt).toEqual(expect.any(String));
        },
      };
    },
  },
  'GET /v1/audit': {
    writes: false,
    prepare: async (fx) => ({
      path: '/v1/audit',
      check: (res) => expect(res.body.team).toBe(fx.h.team),
    }),
  },
  'GET /v1/experiments/:key/reused-by': {
    writes: false,
    prepare: async (fx) => ({
      path: `${exp(fx.shared.key)}/reused-by`,
      check: (res) => expect(res.body).toMatchObject({ consumers: [], complete: true }),
    }),
  },
  'POST /v1/experiments/:key/artifacts/:tag/versions/:v/archive': {
    writes: true, // audited as download.sign
    prepare: async (fx) => ({
      path: `${blobPath(fx.shared.key, fx.shared.tag)}/versions/1/archive`,
      check: async (res) => expect((await fetch(res.body.url)).status).toBe(200),
    }),
  },
  'GET /v1/archives/:link/:name (no credential needed)': {
    writes: false,
    prepare: async (fx) => {
      const root = { authorization: `Bearer ${fx.h.root.token}`, userId: fx.h.root.userId, team: fx.h.team };
      const link = await callApi(
        fx.h.url,
        'POST',
        `${blobPath(fx.shared.key, fx.shared.tag)}/versions/1/archive`,
        root,
      );
      expect(link.status, link.text).toBe(200);
      return {
        path: new URL(link.body.url).pathname,
        check: (res) => expect(res.text.length).toBeGreaterThan(0),
      };
    },
  },
  'POST /v1/ui/signin-codes': {
    writes: false,
    prepare: async () => ({
      path: '/v1/ui/signin-codes',
      body: {},
      check: (res) => expect(res.body.code).toMatch(/^slc_/),
    }),
  },
  'POST /v1/ui/session (fresh code)': {
    writes: false,
    prepare: async (fx) => {
      const root = { authorization: `Bearer ${fx.h.root.token}`, userId: fx.h.root.userId };
      const made = await callApi(fx.h.url, 'POST', '/v1/ui/signin-codes', root, {});
      return {
        path: '/v1/ui/session',
        body: { code: made.status === 201 ? made.body.code : `slc_${'x'.repeat(43)}` },
        check: (res) => expect(Date.parse(res.body.expiresAt)).toBeGreaterThan(Date.now()),
      };
    },
  },
  'POST /v1/ui/logout (bearer)': {
    writes: false,
    prepare: async () => ({
      path: '/v1/ui/logout',
      body: {},
      check: (res) => expect(res.body).toEqual({ signedOut: true }),
    }),
  },
  'POST /v1/gc': {
    writes: true, // a run is audited (blobs.gc); with the default grace of a day it only condemns, never deletes
    prepare: async (fx) => ({
      path: '/v1/gc',
      body: {},
      probe: async () =>
        (await fx.h.blobIndex.listBlobs(fx.h.team, { limit: 1000 })).filter((b) => b.condemnedAt).length,
      check: (res) => {
        expect(res.body.gc).toMatchObject({ team: fx.h.team, dryRun: false, deleted: { blobs: 0, bytes: 0 } });
        expect(res.body.gc.referenced.blobs).toBeGreaterThan(0);
      },
    }),
  },
  'GET /v1/retention': {
    writes: false,
    prepare: async (fx) => {
      const project = fx.id('proj');
      await fx.ok('PUT', '/v1/retention', { project, keepDaily: 7 });
      return {
        path: '/v1/retention',
        check: (res) =>
          expect(res.body.policies).toContainEqual(expect.objectContaining({ team: fx.h.team, project, keepDaily: 7 })),
      };
    },
  },
  'PUT /v1/retention': {
    writes: true,
    prepare: async (fx, _cred, as) => {
      const project = fx.id('proj');
      return {
        path: '/v1/retention',
        body: { project, keepLast: 3 },
        probe: () => policyOf(fx, project),
        check: (res) =>
          expect(res.body.policy).toMatchObject({ team: fx.h.team, project, keepLast: 3, updatedBy: as.userId }),
      };
    },
  },
  'DELETE /v1/retention': {
    writes: true,
    prepare: async (fx) => {
      const project = fx.id('proj');
      await fx.ok('PUT', '/v1/retention', { project, keepLast: 3 });
      return {
        path: `/v1/retention?project=${enc(project)}`,
        probe: () => policyOf(fx, project),
        check: async (res) => {
          expect(res.body.policy).toMatchObject({ team: fx.h.team, project, keepLast: 3 });
          expect(await policyOf(fx, project)).toBeNull();
        },
      };
    },
  },
  'POST /v1/retention/apply': {
    writes: true,
    prepare: async (fx) => {
      const t = await retentionTarget(fx);
      return {
        path: '/v1/retention/apply',
        body: { project: t.project },
        probe: t.versions,
        check: async (res) => {
          expect(res.body).toMatchObject({ dryRun: false, experiments: 1, versionsDeleted: 2, expired: [] });
          expect(await t.versions()).toEqual([3]);
        },
      };
    },
  },
  'POST /v1/retention/apply (dryRun)': {
    writes: false,
    prepare: async (fx) => {
      const t = await retentionTarget(fx);
      return {
        path: '/v1/retention/apply',
        body: { project: t.project, dryRun: true },
        probe: t.versions,
        check: (res) =>
          expect(res.body).toMatchObject({
            dryRun: true,
            versionsDeleted: 2,
            deletions: [{ experiment: t.key, tag: 'w', versions: [1, 2] }],
          }),
      };
    },
  },
};

/** The policy of `project` as root reads it (GET /v1/retention), or null. */
async function policyOf(fx: Fixtures, project: string): Promise<unknown> {
  const res = await fx.ok('GET', '/v1/retention');
  return (res.body.policies as { project: string | null }[]).find((p) => p.project === project) ?? null;
}

/**
 * A project of its own with a policy `keepLast 1` (set by root) and a finished experiment in it holding versions 1-3
 * of mutable artifact `w` (made directly: apply reads no manifest). An apply of the project deletes 1 and 2.
 */
async function retentionTarget(fx: Fixtures) {
  const project = fx.id('proj');
  await fx.ok('PUT', '/v1/retention', { project, keepLast: 1 });
  const key = fx.id('rotated');
  const at = new Date().toISOString();
  const team = fx.h.team;
  await fx.h.experiments.createExperiment({
    team,
    key,
    project,
    owner: fx.h.root.userId,
    status: 'finished',
    command: [],
    cwd: null,
    host: null,
    git: null,
    createdAt: at,
    startedAt: at,
    finishedAt: at,
    exitCode: 0,
    signal: null,
    warnings: [],
    lineage: [],
  });
  for (let i = 1; i <= 3; i++) {
    await fx.h.experiments.commitVersion({
      team,
      experiment: key,
      tag: 'w',
      mutable: true,
      digest: sha256(`${key} ${i}`),
      manifestSha256: sha256(`${key} manifest ${i}`),
      files: 1,
      bytes: 10,
      stats: { hashedFiles: 0, hashedBytes: 0, uploadedBlobs: 0, uploadedBytes: 0, skipped: [] },
      createdBy: fx.h.root.userId,
      createdAt: at,
    });
  }
  const versions = async () => (await fx.h.experiments.listVersions(team, key, 'w')).map((v) => v.version);
  return { project, key, versions };
}

/** A fresh alias of the shared artifact at version 1, set by root; its name. */
async function aliasOnShared(fx: Fixtures): Promise<string> {
  const name = fx.id('a');
  await fx.ok('PUT', `${blobPath(fx.shared.key, fx.shared.tag)}/aliases/${name}`, { version: 1 });
  return name;
}

/** A set, move or delete of alias `name` of the shared artifact; the probe is the alias itself and its audit entry. */
function aliasChange(
  fx: Fixtures,
  name: string,
  o: { body?: unknown; from: number | null; to: number | null },
): Prepared {
  const path = `${blobPath(fx.shared.key, fx.shared.tag)}/aliases/${name}`;
  return {
    path,
    ...(o.body === undefined ? {} : { body: o.body }),
    probe: async () => {
      const list = await fx.ok('GET', `${blobPath(fx.shared.key, fx.shared.tag)}/aliases`);
      return (list.body.aliases as { name: string; updatedAt: string }[]).find((a) => a.name === name) ?? null;
    },
    check: async (res) => {
      expect(res.body.alias).toEqual({ experiment: fx.shared.key, tag: fx.shared.tag, name, from: o.from, to: o.to });
      const [entry] = await fx.h.audit.list(fx.h.team, { limit: 1 });
      expect(entry).toMatchObject({
        target: `${fx.shared.key}/${fx.shared.tag}@${name}`,
        details: { from: o.from, to: o.to },
      });
    },
  };
}

/** The owner a pushed record names (a user of the source backend, not of this one). */
const PUSHED_OWNER = 'source-owner';

/** An ended experiment record as a push carries it (contract/schemas.ts pushedRecordBody). */
function pushRecord() {
  const at = '2024-01-02T03:04:05.000Z';
  return {
    project: null,
    owner: PUSHED_OWNER,
    status: 'finished',
    command: ['python', 'train.py'],
    cwd: null,
    host: 'source-host',
    git: null,
    createdAt: at,
    startedAt: at,
    finishedAt: '2024-01-02T05:00:00.000Z',
    exitCode: 0,
    signal: null,
    warnings: [],
    lineage: [],
    attempt: 1,
    attempts: [],
    lastSeenAt: null,
  };
}

/** The body of `PUT …/push` for a fresh history. */
function pushBegin(fx: Fixtures) {
  return { origin: sha256(fx.id('origin')), from: 'local', host: 'matrix', record: pushRecord() };
}

function pushComplete() {
  return { record: pushRecord(), versionsCreated: 0, uploadedBlobs: 0, uploadedBytes: 0 };
}

/**
 * A new experiment receiving a push: opened by the column's credential when it may push (its own push), else by
 * root (a credential that cannot push cannot continue root's push either). Its key.
 */
async function openPush(fx: Fixtures, as: Credential): Promise<string> {
  const key = fx.id('push');
  const body = pushBegin(fx);
  const own = await callApi(fx.h.url, 'PUT', `${exp(key)}/push`, as, body);
  if (own.status !== 201) await fx.ok('PUT', `${exp(key)}/push`, body);
  return key;
}

function deletion(fx: Fixtures, key: string, as?: Credential): Prepared {
  return {
    path: exp(key),
    ...(as ? { as } : {}),
    probe: async () => [
      await fx.h.experiments.getExperiment(fx.h.team, key),
      await fx.h.experiments.listArtifacts(fx.h.team, key),
      await fx.h.jobs.getJob(fx.h.team, key),
    ],
    check: async (res) => {
      expect(res.body.deleted).toMatchObject({ key });
      expect(await fx.h.experiments.getExperiment(fx.h.team, key)).toBeNull();
    },
  };
}

function revocation(fx: Fixtures, tokenId: string): Prepared {
  return {
    path: `/v1/tokens/${enc(tokenId)}`,
    probe: async () => (await fx.h.tokens.getToken(tokenId))?.revokedAt ?? null,
    check: (res) => expect(res.body.token).toMatchObject({ id: tokenId, revokedAt: expect.any(String) }),
  };
}

export function specIds(): string[] {
  return Object.keys(SPECS);
}

// ---------------------------------------------------------------------------------------------------------------
// The runner
// ---------------------------------------------------------------------------------------------------------------

/** Outsiders (no valid credential of a team member): their refusals must not name any of the team's data. */
const OUTSIDERS: ReadonlySet<Cred> = new Set<Cred>([
  'none',
  'malformed',
  'expired',
  'revoked',
  'otherTeam',
  'basic',
  'unknown',
  'noTeam',
]);

/** Runs one cell: prepare, probe, call, assert, clean up. */
export async function runCell(fx: Fixtures, r: Row, cred: Cred, want: Expect): Promise<void> {
  const spec = SPECS[rowId(r)];
  if (!spec) throw new Error(`no request for ${rowId(r)}`);
  const base = fx.cred(cred);
  const p = await spec.prepare(fx, cred, base);
  const as = p.as ?? base;
  try {
    const probeBefore = [await p.probe?.(), await fx.auditHeads()];
    const snapshot = fx.h.snapshot;
    const snapBefore = want.code && snapshot ? await snapshot() : undefined;
    const res = await callApi(fx.h.url, r.method, p.path, as, p.body);
    const probeAfter = [await p.probe?.(), await fx.auditHeads()];
    if (want.code) {
      expectErrorBody(res, want.status, want.code);
      expect(probeAfter, 'a refused request changed something').toEqual(probeBefore);
      if (snapshot && snapBefore !== undefined) {
        expect(await snapshot(), 'a refused request stored something').toEqual(snapBefore);
      }
      if (OUTSIDERS.has(cred)) {
        for (const secret of [fx.shared.key, fx.shared.sha]) expect(res.text).not.toContain(secret);
      }
      return;
    }
    expect(res.status, res.text).toBe(want.status);
    if (spec.writes) expect(probeAfter, 'an allowed write changed nothing').not.toEqual(probeBefore);
    else expect(probeAfter, 'a read changed something').toEqual(probeBefore);
    await p.check?.(res);
  } finally {
    await p.cleanup?.();
  }
}

/**
 * Registers the matrix as vitest tests: one `describe` per route, one `it` per credential. `host` is called in the
 * runner's beforeAll (after the test file's own beforeAll made the host).
 */
export function describeAuthzMatrix(hostName: Host, host: () => MatrixHost, opts: { setupTimeoutMs?: number } = {}) {
  describe(`authorization matrix (${hostName})`, () => {
    let fx: Fixtures;
    beforeAll(async () => {
      fx = new Fixtures(host());
      await fx.setup();
    }, opts.setupTimeoutMs ?? 60_000);

    it('has one request per row and one cell per credential', () => {
      expect(MATRIX.map(rowId).sort()).toEqual(specIds().sort());
      for (const r of MATRIX) expect(r.cells, rowId(r)).toHaveLength(CREDS.length);
    });

    describe.each(MATRIX.map((r) => [rowId(r), r] as const))('%s', (_id, r) => {
      const cells = CREDS.map((c, i) => {
        const want = expectationFor(r.cells[i] as Cell, hostName);
        return [c, `${want.status}${want.code ? ` ${want.code}` : ''}`, want] as const;
      });
      it.each(cells)('%s -> %s', async (cred, _label, want) => {
        await runCell(fx, r, cred, want);
      });
    });
  });
}
