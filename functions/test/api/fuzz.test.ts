/**
 * Issue 11 (fuzz): property-based requests to every /v1 route of the local backend: random bodies (any JSON, the
 * route's own fields with random values, valid bodies with one field replaced) and random values in every name and
 * path field (experiment, tag, version, team, user, token id, queue). Properties: never a 5xx, never over a second,
 * and a refused request stores nothing (row counts of every table, every stored file). Fixed seed, bounded runs.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { homePaths } from '../../src/adapters/local/local-home.ts';
import { ALIAS_ROUTES } from '../../src/api/alias-routes.ts';
import { AUTH_ROUTES } from '../../src/api/auth-routes.ts';
import { CORE_ROUTES, createApiHandler } from '../../src/api/handler.ts';
import { JOB_ROUTES } from '../../src/api/job-routes.ts';
import { RETENTION_ROUTES } from '../../src/api/retention-routes.ts';
import { TEAM_ROUTES } from '../../src/api/team-routes.ts';
import { packIdOf } from '../../src/core/packs.ts';
import { createExperiment, type Harness, publish, startHarness, TEAM, text } from './helpers.ts';

const SEED = 20261203;
const RUNS = Number(process.env.FUZZ_RUNS ?? 30);

let h: Harness;
let handler: (req: Request) => Promise<Response>;
const EXP = 'fuzz-target';
/** An experiment receiving a push (begun in beforeAll). */
const PUSHED = 'fuzz-pushed';

beforeAll(async () => {
  h = await startHarness();
  handler = createApiHandler(h.server.backend.deps);
  await createExperiment(h, EXP);
  await publish(h, EXP, 'model', [{ path: 'a.txt', data: text('fuzz\n') }]);
  const begun = await h.call('PUT', `/v1/experiments/${PUSHED}/push`, { body: pushBegin });
  expect(begun.status, begun.text).toBe(201);
});
afterAll(async () => {
  await h?.close();
});

/** Row counts of every table and the stored files: what a refused request must leave as it was. */
function storeShape(): unknown {
  const db = new Database(homePaths(h.home).db, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all() as { name: string }[];
    const counts = Object.fromEntries(
      tables.map(({ name }) => [name, (db.prepare(`SELECT COUNT(*) AS n FROM "${name}"`).get() as { n: number }).n]),
    );
    const store = homePaths(h.home).store;
    const files = readdirSync(join(store, 'teams'), { recursive: true }).length;
    return { counts, files };
  } finally {
    db.close();
  }
}

/** Text that tries to hurt: control characters, traversal, unicode, huge, empty, URL syntax. */
const nasty = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(
    '',
    '.',
    '..',
    '../../etc/passwd',
    'a/b',
    '%2e%2e',
    '\u0000',
    '\u001b[2J',
    'LOCAL',
    'latest',
    '-1',
    '0',
    '1e309',
    'x'.repeat(300),
    '日本語',
    'a'.repeat(64),
    '__proto__',
    'constructor',
  ),
);
const seg = nasty.map((s) => encodeURIComponent(s) || 'x');
/** The fuzz target's key or a fuzzed one. */
const expSeg = fc.oneof(fc.constant(EXP), seg);

/** A JSON value, or a broken body. */
const anyBody = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
  fc.constantFrom('', '{', 'null', '[]', '{"a":', '\u0000'),
  fc.string({ maxLength: 60 }),
);

interface RouteFuzz {
  method: string;
  /** Builds the path from fuzzed segments. */
  path: fc.Arbitrary<string>;
  /** A valid body (fields are replaced one at a time) or none. */
  valid?: Record<string, unknown>;
}

const fieldsOf = (valid: Record<string, unknown>) =>
  fc.oneof(
    anyBody,
    fc
      .record(Object.fromEntries(Object.keys(valid).map((k) => [k, fc.jsonValue({ maxDepth: 2 })])), {
        requiredKeys: [],
      })
      .map((v) => JSON.stringify(v)),
    fc
      .tuple(fc.constantFrom(...Object.keys(valid)), fc.oneof(fc.jsonValue({ maxDepth: 2 }), nasty))
      .map(([k, v]) => JSON.stringify({ ...valid, [k]: v })),
  );

const art = (e: string, t: string) => `/v1/experiments/${e}/artifacts/${t}`;
const manifest = { files: [{ path: 'a.txt', size: 5, sha256: 'a'.repeat(64), mode: 420, mtime: 1 }] };
/** A registration whose id matches its nonce and members (so fuzzing one field reaches past the id check). */
const packMembers = [
  { sha256: 'a'.repeat(64), size: 5 },
  { sha256: 'b'.repeat(64), size: 0 },
];
const pack = { id: packIdOf('c'.repeat(32), packMembers), nonce: 'c'.repeat(32), members: packMembers };

/** An ended record as a push carries it, and a begin body (a fixed history) for it. */
const pushRecord = {
  project: null,
  owner: 'someone',
  status: 'finished',
  command: ['python', 'x.py'],
  cwd: null,
  host: null,
  git: null,
  createdAt: '2024-01-01T00:00:00.000Z',
  startedAt: '2024-01-01T00:00:00.000Z',
  finishedAt: '2024-01-01T01:00:00.000Z',
  exitCode: 0,
  signal: null,
  warnings: [],
  lineage: [{ as: 'm', experiment: EXP, tag: 'model', version: 1 }],
  attempt: 1,
  attempts: [],
  lastSeenAt: null,
};
const pushBegin = { origin: 'e'.repeat(64), from: 'local', host: 'h', record: pushRecord };

const ROUTES: RouteFuzz[] = [
  { method: 'GET', path: fc.constant('/v1/whoami') },
  {
    method: 'POST',
    path: fc.constant('/v1/experiments'),
    valid: { key: 'k1', command: ['python', 'x.py'], cwd: '/w', reuse: [{ experiment: EXP, tag: 'model', as: 'm' }] },
  },
  {
    method: 'GET',
    path: fc
      .tuple(nasty, nasty)
      .map(([p, l]) => `/v1/experiments?project=${encodeURIComponent(p)}&limit=${encodeURIComponent(l)}`),
  },
  { method: 'GET', path: seg.map((e) => `/v1/experiments/${e}`) },
  {
    method: 'POST',
    path: seg.map((e) => `/v1/experiments/${e}/finish`),
    valid: { status: 'finished', exitCode: 0, warnings: ['w'] },
  },
  { method: 'POST', path: seg.map((e) => `/v1/experiments/${e}/heartbeat`), valid: { attempt: 1 } },
  {
    method: 'DELETE',
    path: fc.tuple(seg, nasty).map(([e, f]) => `/v1/experiments/${e}?force=${encodeURIComponent(f)}`),
  },
  {
    method: 'POST',
    path: fc.tuple(seg, seg).map(([e, t]) => `${art(e, t)}/uploads`),
    valid: { blobs: [{ sha256: 'a'.repeat(64), size: 5 }] },
  },
  // The real artifact too: a well-formed registration of a pack never uploaded reaches the store (E_BLOB_MISSING).
  {
    method: 'POST',
    path: fc.tuple(expSeg, fc.oneof(fc.constant('model'), seg)).map(([e, t]) => `${art(e, t)}/packs`),
    valid: pack,
  },
  {
    method: 'POST',
    path: fc.tuple(seg, seg).map(([e, t]) => `${art(e, t)}/versions`),
    valid: { mutable: true, manifest },
  },
  { method: 'GET', path: fc.tuple(seg, seg, seg).map(([e, t, v]) => `${art(e, t)}/versions/${v}`) },
  {
    method: 'POST',
    path: fc.tuple(seg, seg, seg).map(([e, t, v]) => `${art(e, t)}/versions/${v}/downloads`),
    valid: { sha256s: ['a'.repeat(64)] },
  },
  // Aliases of the real artifact too, so fuzzed names reach the name rules and the store, not only E_NOT_FOUND.
  { method: 'GET', path: fc.tuple(expSeg, seg).map(([e, t]) => `${art(e, t)}/aliases`) },
  {
    method: 'PUT',
    path: fc.tuple(expSeg, fc.oneof(fc.constant('model'), seg), seg).map(([e, t, n]) => `${art(e, t)}/aliases/${n}`),
    valid: { version: 1 },
  },
  {
    method: 'DELETE',
    path: fc.tuple(expSeg, fc.oneof(fc.constant('model'), seg), seg).map(([e, t, n]) => `${art(e, t)}/aliases/${n}`),
  },
  // Push: the begin body is valid, so fuzzed keys reach the key rules and the store; versions and complete also
  // go to an experiment receiving a push (PUSHED), so fuzzed fields reach the manifest, lineage and record checks.
  { method: 'PUT', path: seg.map((e) => `/v1/experiments/${e}/push`), valid: pushBegin },
  {
    method: 'POST',
    path: fc.oneof(fc.constant(PUSHED), seg).map((e) => `/v1/experiments/${e}/push/versions`),
    valid: {
      tag: 'model',
      mutable: true,
      version: 1,
      manifest,
      createdBy: 'someone',
      createdAt: '2024-01-01T00:00:00.000Z',
    },
  },
  {
    method: 'POST',
    path: fc.oneof(fc.constant(PUSHED), seg).map((e) => `/v1/experiments/${e}/push/complete`),
    valid: { record: pushRecord, versionsCreated: 0, uploadedBlobs: 0, uploadedBytes: 0 },
  },
  { method: 'POST', path: fc.constant('/v1/tokens'), valid: { scopes: ['read'], expiresInSeconds: 60 } },
  { method: 'GET', path: nasty.map((t) => `/v1/tokens?team=${encodeURIComponent(t) || 'x'}`) },
  { method: 'DELETE', path: seg.map((id) => `/v1/tokens/${id}`) },
  { method: 'POST', path: fc.constant('/v1/worker-tokens'), valid: { queue: 'q', expiresInSeconds: 60, label: 'l' } },
  {
    method: 'POST',
    path: seg.map((e) => `/v1/experiments/${e}/job`),
    valid: { queue: 'q', spec: { command: ['true'] } },
  },
  { method: 'GET', path: seg.map((e) => `/v1/experiments/${e}/job`) },
  { method: 'POST', path: seg.map((e) => `/v1/experiments/${e}/stop`), valid: { mode: 'stop' } },
  { method: 'POST', path: seg.map((q) => `/v1/queues/${q}/lease`), valid: { worker: { id: 'w' }, waitSeconds: 0 } },
  { method: 'POST', path: seg.map((j) => `/v1/jobs/${j}/heartbeat`) },
  { method: 'POST', path: seg.map((j) => `/v1/jobs/${j}/complete`), valid: { status: 'finished', exitCode: 0 } },
  {
    method: 'GET',
    path: fc
      .tuple(nasty, nasty)
      .map(([q, s]) => `/v1/jobs?queue=${encodeURIComponent(q)}&status=${encodeURIComponent(s)}`),
  },
  { method: 'POST', path: fc.constant('/v1/teams'), valid: { id: 'team-x' } },
  { method: 'GET', path: fc.constant('/v1/teams') },
  { method: 'GET', path: seg.map((t) => `/v1/teams/${t}/members`) },
  { method: 'PUT', path: fc.tuple(seg, seg).map(([t, u]) => `/v1/teams/${t}/members/${u}`), valid: { role: 'viewer' } },
  { method: 'DELETE', path: fc.tuple(seg, seg).map(([t, u]) => `/v1/teams/${t}/members/${u}`) },
  {
    method: 'GET',
    path: fc
      .tuple(nasty, nasty)
      .map(([a, b]) => `/v1/audit?action=${encodeURIComponent(a)}&before=${encodeURIComponent(b)}`),
  },
  { method: 'POST', path: fc.constant('/v1/gc'), valid: { dryRun: true } },
  { method: 'GET', path: fc.constant('/v1/retention') },
  {
    method: 'PUT',
    path: fc.constant('/v1/retention'),
    valid: {
      project: 'fuzz-p',
      keepLast: 3,
      keepEvery: 10,
      keepWithinHours: 24,
      keepHourly: 24,
      keepDaily: 7,
      expireDays: 30,
    },
  },
  { method: 'DELETE', path: nasty.map((p) => `/v1/retention?project=${encodeURIComponent(p)}`) },
  {
    method: 'POST',
    path: fc.constant('/v1/retention/apply'),
    valid: { dryRun: true, project: 'fuzz-p', rules: { keepLast: 1 } },
  },
  { method: 'GET', path: fc.constant('/v1/auth/config') },
];

describe('fuzz: every route, random bodies and names', () => {
  it('covers every handler route', () => {
    for (const r of [
      ...CORE_ROUTES,
      ...ALIAS_ROUTES,
      ...RETENTION_ROUTES,
      ...JOB_ROUTES,
      ...AUTH_ROUTES,
      ...TEAM_ROUTES,
    ]) {
      const hit = ROUTES.some(
        (f) =>
          f.method === r.method &&
          r.pattern.test(new URL(`http://x${fc.sample(f.path, { seed: 2, numRuns: 1 })[0]}`).pathname),
      );
      expect(hit, `${r.method} ${r.pattern}`).toBe(true);
    }
  });

  const label = (r: RouteFuzz) => `${r.method} ${fc.sample(r.path, { seed: 1, numRuns: 1 })[0]}`;
  it.each(ROUTES.map((r) => [label(r), r] as const))(
    'never 5xx, never over 1 s, nothing stored on refusal: %s',
    async (_name, r) => {
      const body = r.valid ? fieldsOf(r.valid) : fc.constant(undefined);
      const team = fc.oneof(fc.constant(TEAM), fc.constant(undefined), nasty);
      await fc.assert(
        fc.asyncProperty(r.path, body, team, async (path, payload, t) => {
          const headers: Record<string, string> = { authorization: `Bearer ${h.token}` };
          if (t !== undefined) headers['x-studio-team'] = encodeURIComponent(t);
          if (payload !== undefined) headers['content-type'] = 'application/json';
          const before = storeShape();
          const started = performance.now();
          const res = await handler(
            new Request(h.url + path, { method: r.method, headers, body: r.method === 'GET' ? undefined : payload }),
          );
          const ms = performance.now() - started;
          const txt = await res.text();
          expect(res.status, `${r.method} ${path} ${payload?.slice(0, 200)} -> ${txt.slice(0, 200)}`).toBeLessThan(500);
          expect(ms, `${r.method} ${path} took ${ms} ms`).toBeLessThan(1000);
          if (res.status >= 400) expect(storeShape(), `${r.method} ${path} refused but stored`).toEqual(before);
        }),
        { seed: SEED, numRuns: RUNS, endOnFailure: true },
      );
    },
  );
});
