/**
 * The authorization matrix (functions/test/support/authz-matrix.ts) on the local backend: every /v1 route × every
 * credential -> exact status and code; refused cells change no row of any table and no stored file. Also: every
 * handler route is in the matrix, docs/security.md publishes exactly this matrix, and the checks around it that a
 * matrix cannot express (team selection, isolation of a second team, token lifecycle). Replaces authz.test.ts.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { homePaths } from '../../src/adapters/local/local-home.ts';
import { ALIAS_ROUTES } from '../../src/api/alias-routes.ts';
import { AUTH_ROUTES } from '../../src/api/auth-routes.ts';
import { CORE_ROUTES } from '../../src/api/handler.ts';
import { JOB_ROUTES } from '../../src/api/job-routes.ts';
import { RETENTION_ROUTES } from '../../src/api/retention-routes.ts';
import { TEAM_ROUTES } from '../../src/api/team-routes.ts';
import { UI_ROUTES } from '../../src/api/ui-routes.ts';
import type {
  ListExperimentsResponse,
  PlannedPack,
  PlanUploadResponse,
  WhoAmIResponse,
} from '../../src/contract/wire.ts';
import { metadataPorts } from '../../src/core/ports.ts';
import { mintToken } from '../../src/core/tokens.ts';
import {
  type Credential,
  DOCS_BEGIN,
  DOCS_END,
  describeAuthzMatrix,
  type HostCred,
  MATRIX,
  type MatrixHost,
  renderMatrix,
  rowId,
  samplePath,
  withPublishedMatrix,
} from '../support/authz-matrix.ts';
import {
  type CallOptions,
  commit,
  createExperiment,
  expectError,
  type Harness,
  manifestOf,
  mintUserToken,
  publish,
  registerPack,
  route,
  send,
  sha256,
  startHarness,
  TEAM,
  text,
  uniqueKey,
  uploadBlobs,
} from './helpers.ts';

const OTHER_TEAM = 'other-team';
const DOCS = fileURLToPath(new URL('../../../docs/security.md', import.meta.url));

/** Every row of every table (read-only connection) and every stored file: what a refused request must not change. */
async function wholeStore(h: Harness): Promise<unknown> {
  const db = new Database(homePaths(h.home).db, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all() as { name: string }[];
    const rows = Object.fromEntries(
      tables.map(({ name }) => [
        name,
        db
          .prepare(`SELECT * FROM "${name}"`)
          .all()
          .map((r) => JSON.stringify(r))
          .sort(),
      ]),
    );
    const { files, tmp } = await h.snapshot();
    return { rows, files, tmp };
  } finally {
    db.close();
  }
}

const bearer = (token: string, team?: string): Credential => ({
  authorization: `Bearer ${token}`,
  userId: null,
  ...(team ? { team } : {}),
});

let h: Harness;
let host: MatrixHost;

beforeAll(async () => {
  h = await startHarness();
  const deps = h.server.backend.deps;
  // Job tokens must outlive the whole matrix run (a lease is checked on every job-token request).
  deps.jobSettings = { ...deps.jobSettings, leaseSeconds: 3600 };
  const person = async (userId: string, teams: Record<string, 'viewer' | 'editor' | 'admin'>, team?: string) => ({
    ...bearer(await mintUserToken(h, userId, teams), team),
    userId,
  });
  await h.accounts.putUser({ id: 'rhoda', name: 'rhoda', createdAt: new Date().toISOString() });
  await h.accounts.setMembership(TEAM, 'rhoda', 'admin');
  const readOnly = await mintToken(h, {
    userId: 'rhoda',
    kind: 'personal',
    scopes: ['read'],
    expiresAt: null,
    now: new Date(),
  });
  const creds: Record<HostCred, Credential> = {
    none: { authorization: null, userId: null },
    malformed: { authorization: 'Bearer not-a-token', userId: null },
    expired: bearer(
      await mintUserToken(h, 'expired-admin', { [TEAM]: 'admin' }, { expiresAt: new Date(Date.now() - 60_000) }),
    ),
    revoked: bearer(await mintUserToken(h, 'revoked-admin', { [TEAM]: 'admin' }, { revoked: true })),
    otherTeam: await person('mallory', { [OTHER_TEAM]: 'admin' }, TEAM),
    viewer: await person('vera', { [TEAM]: 'viewer' }),
    editor: await person('eddie', { [TEAM]: 'editor' }),
    admin: await person('ada', { [TEAM]: 'admin' }),
    basic: { authorization: `Basic ${Buffer.from('local:password').toString('base64')}`, userId: null },
    unknown: bearer(`slt_${Buffer.alloc(32, 9).toString('base64url')}`),
    noTeam: await person('nobody', {}),
    readOnly: { ...bearer(readOnly.secret), userId: 'rhoda' },
  };
  host = {
    url: h.url,
    team: TEAM,
    otherTeam: OTHER_TEAM,
    ...metadataPorts(h),
    jobs: deps.jobs as NonNullable<typeof deps.jobs>,
    audit: deps.audit,
    root: { token: h.token, userId: 'local' },
    creds,
    snapshot: () => wholeStore(h),
  };
});
afterAll(async () => {
  await h?.close();
});

describeAuthzMatrix('local', () => host);

describe('the matrix covers the API', () => {
  const handlerRoutes = [
    ...CORE_ROUTES,
    ...ALIAS_ROUTES,
    ...RETENTION_ROUTES,
    ...JOB_ROUTES,
    ...AUTH_ROUTES,
    ...TEAM_ROUTES,
    ...UI_ROUTES,
  ];

  it('every handler route has a row, and every row reaches a handler route', () => {
    for (const r of handlerRoutes) {
      const rows = MATRIX.filter((m) => m.method === r.method && r.pattern.test(samplePath(m)));
      expect(rows.length, `${r.method} ${r.pattern}`).toBeGreaterThan(0);
    }
    for (const m of MATRIX) {
      const first = handlerRoutes.find((r) => r.pattern.test(samplePath(m)) && r.method === m.method);
      expect(first, rowId(m)).toBeDefined();
    }
  });
});

describe('docs/security.md', () => {
  it('publishes exactly this matrix between the markers (UPDATE_DOCS=1 rewrites it)', () => {
    const doc = readFileSync(DOCS, 'utf8');
    const want = withPublishedMatrix(doc);
    if (process.env.UPDATE_DOCS === '1' && want !== doc) writeFileSync(DOCS, want);
    const got = process.env.UPDATE_DOCS === '1' ? readFileSync(DOCS, 'utf8') : doc;
    const block = got.slice(got.indexOf(DOCS_BEGIN), got.indexOf(DOCS_END) + DOCS_END.length);
    expect(block).toBe(`${DOCS_BEGIN}\n${renderMatrix()}\n${DOCS_END}`);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// What the matrix cannot express (moved from authz.test.ts): own harness, so the team `other-team` starts empty.
// ---------------------------------------------------------------------------------------------------------------

describe('beyond the matrix', () => {
  let g: Harness;
  const target = uniqueKey('authz-target'); // running, artifact model@1
  const blob = text('team data that outsiders must not see\n');
  let viewer: CallOptions;

  beforeAll(async () => {
    g = await startHarness();
    await createExperiment(g, target, { project: 'authz' });
    await publish(g, target, 'model', [{ path: 'data.txt', data: blob }]);
    viewer = { token: await mintUserToken(g, 'vera', { [TEAM]: 'viewer' }) };
  });
  afterAll(async () => {
    await g?.close();
  });

  describe('a member of another team without x-studio-team', () => {
    let mallory: CallOptions;
    beforeAll(async () => {
      mallory = { token: await mintUserToken(g, 'mallory-2', { [OTHER_TEAM]: 'admin' }) };
    });

    it('is placed in its own team and sees none of team local', async () => {
      const who = await g.call<WhoAmIResponse>('GET', route.whoami(), mallory);
      expect(who.status).toBe(200);
      expect(who.body.team).toBe(OTHER_TEAM);
      const list = await g.call<ListExperimentsResponse>('GET', route.experiments(), mallory);
      expect(list.status).toBe(200);
      expect(list.body.experiments).toEqual([]);
      const byProject = await g.call<ListExperimentsResponse>('GET', `${route.experiments()}?project=authz`, mallory);
      expect(byProject.body.experiments).toEqual([]);
    });

    it("gets 404 for team local's experiment on every route, and nothing changes", async () => {
      const before = await g.snapshot();
      const cases: [string, string, unknown][] = [
        ['GET', route.experiment(target), undefined],
        ['GET', route.version(target, 'model', 1), undefined],
        ['GET', route.version(target, 'model', 'latest'), undefined],
        ['POST', route.downloads(target, 'model', 1), { sha256s: [sha256(blob)] }],
        ['POST', route.uploads(target, 'model'), { blobs: [{ sha256: sha256('x'), size: 1 }] }],
        [
          'POST',
          route.packs(target, 'model'),
          { id: 'ab'.repeat(32), nonce: 'cd'.repeat(16), members: [{ sha256: sha256(blob), size: blob.length }] },
        ],
        [
          'POST',
          route.versions(target, 'model'),
          { mutable: true, manifest: manifestOf([{ path: 'evil', data: blob }]) },
        ],
        ['POST', route.finish(target), { status: 'failed', exitCode: 1 }],
      ];
      for (const [method, path, body] of cases) {
        const res = await g.call(method, path, { ...mallory, body });
        expectError(res, 404, 'E_NOT_FOUND');
        expect(res.text).not.toContain(sha256(blob));
      }
      expect(await g.snapshot()).toEqual(before);
    });

    it('creates in its own team only; a hash team local has is neither "present" nor committable for it', async () => {
      const k = uniqueKey('mallory-exp');
      await createExperiment(g, k, {}, mallory);
      expect(await g.experiments.getExperiment(OTHER_TEAM, k)).not.toBeNull();
      expect(await g.experiments.getExperiment(TEAM, k)).toBeNull();
      // Same key in both teams stays two experiments.
      await createExperiment(g, target, {}, mallory);
      expect((await g.experiments.getExperiment(TEAM, target))?.owner).toBe('local');

      const plan = await g.call<PlanUploadResponse>('POST', route.uploads(k, 'steal'), {
        ...mallory,
        body: { blobs: [{ sha256: sha256(blob), size: blob.length }] },
      });
      expect(plan.status).toBe(200);
      expect(plan.body.present).toBe(0);
      const res = await commit(g, k, 'steal', manifestOf([{ path: 'x', data: blob }]), true, {}, mallory);
      expectError(res, 409, 'E_BLOB_MISSING');

      const local = await g.call<ListExperimentsResponse>('GET', route.experiments());
      expect(local.body.experiments.map((e) => e.key)).not.toContain(k);
      expect(local.body.experiments.every((e) => e.team === TEAM)).toBe(true);
    });
  });

  describe('team selection', () => {
    it('a member of two teams must choose one: no header -> 400 E_BAD_REQUEST; a header picks it', async () => {
      const token = await mintUserToken(g, 'two-teams', { [TEAM]: 'viewer', [OTHER_TEAM]: 'editor' });
      expectError(await g.call('GET', route.experiments(), { token }), 400, 'E_BAD_REQUEST');
      const local = await g.call<ListExperimentsResponse>('GET', route.experiments(), { token, team: TEAM });
      expect(local.status).toBe(200);
      expect(local.body.experiments.map((e) => e.key)).toContain(target);
      const other = await g.call<WhoAmIResponse>('GET', route.whoami(), { token, team: OTHER_TEAM });
      expect(other.body.team).toBe(OTHER_TEAM);
      // Its viewer role in `local` still forbids writes there.
      expectError(
        await g.call('POST', route.experiments(), { token, team: TEAM, body: { key: uniqueKey() } }),
        403,
        'E_FORBIDDEN',
      );
    });

    it('the local admin asking for a team it is not in -> 403 E_FORBIDDEN', async () => {
      expectError(await g.call('GET', route.experiments(), { team: OTHER_TEAM }), 403, 'E_FORBIDDEN');
    });

    it('a worker token naming another team in x-studio-team -> 403 E_FORBIDDEN', async () => {
      const w = await g.call<{ secret: string }>('POST', '/v1/worker-tokens', { body: { queue: 'q' } });
      expect(w.status, w.text).toBe(201);
      expectError(await g.call('GET', route.whoami(), { token: w.body.secret, team: OTHER_TEAM }), 403, 'E_FORBIDDEN');
    });
  });

  describe('token lifecycle', () => {
    it('a token stops working as soon as it is revoked', async () => {
      const token = await mintUserToken(g, 'rita', { [TEAM]: 'editor' });
      expect((await g.call('GET', route.whoami(), { token })).status).toBe(200);
      const rec = await g.tokens.getTokenByHash(sha256(token));
      await g.tokens.revokeToken(rec?.id as string, new Date().toISOString());
      expectError(await g.call('GET', route.whoami(), { token }), 401, 'E_UNAUTHENTICATED');
    });

    it('a removed membership takes effect on the next request', async () => {
      const token = await mintUserToken(g, 'leaver', { [TEAM]: 'editor' });
      const k = uniqueKey('leaver');
      await createExperiment(g, k, {}, { token });
      await g.accounts.setMembership(TEAM, 'leaver', null);
      expectError(
        await g.call('POST', route.finish(k), { token, body: { status: 'finished', exitCode: 0 } }),
        403,
        'E_FORBIDDEN',
      );
      expect((await g.experiments.getExperiment(TEAM, k))?.status).toBe('running');
    });

    it('a removed member can no longer register a pack it uploaded: 403, nothing recorded', async () => {
      const token = await mintUserToken(g, 'packer', { [TEAM]: 'editor' });
      const k = uniqueKey('packer');
      await createExperiment(g, k, {}, { token });
      const data = text('uploaded before the membership was removed\n');
      const plan = await g.call<PlanUploadResponse>('POST', route.uploads(k, 'out'), {
        token,
        body: { blobs: [{ sha256: sha256(data), size: data.length }] },
      });
      const pack = plan.body.packs[0] as PlannedPack;
      expect((await send(pack.request, data)).status).toBe(201);
      await g.accounts.setMembership(TEAM, 'packer', null);
      const before = await g.snapshot();
      expectError(await registerPack(g, k, 'out', pack, { token }), 403, 'E_FORBIDDEN');
      expect(await g.snapshot()).toEqual(before);
      expect((await g.blobIndex.findBlobs(TEAM, [sha256(data)])).size).toBe(0);
    });

    it('empty bearer and lowercase/garbled schemes -> 401', async () => {
      for (const authorization of [
        'Bearer ',
        'Bearer',
        'bearer abc',
        'Token abc',
        `Bearer ${g.token}x`,
        `Bearer ${g.token.slice(0, -1)}`,
      ]) {
        expectError(await g.call('GET', route.whoami(), { authorization }), 401, 'E_UNAUTHENTICATED');
      }
    });

    it('a viewer cannot commit even a blob that is already stored', async () => {
      const data = text('viewer upload attempt');
      await uploadBlobs(g, target, 'model', [data]);
      const mid = await g.snapshot();
      expectError(
        await commit(g, target, 'model', manifestOf([{ path: 'v', data }]), true, {}, viewer),
        403,
        'E_FORBIDDEN',
      );
      expect(await g.snapshot()).toEqual(mid);
    });

    it('a read-only token cannot mint a token that may do more than itself', async () => {
      await g.accounts.putUser({ id: 'reader', name: 'reader', createdAt: new Date().toISOString() });
      await g.accounts.setMembership(TEAM, 'reader', 'admin');
      const ro = await mintToken(g, {
        userId: 'reader',
        kind: 'personal',
        scopes: ['read'],
        expiresAt: null,
        now: new Date(),
      });
      const before = await g.tokens.listTokens('reader');
      for (const scopes of [['*'], ['write'], ['read', 'write']]) {
        expectError(await g.call('POST', '/v1/tokens', { token: ro.secret, body: { scopes } }), 403, 'E_FORBIDDEN');
      }
      expect(await g.tokens.listTokens('reader')).toEqual(before);
      const same = await g.call<{ token: { scopes: string[] } }>('POST', '/v1/tokens', {
        token: ro.secret,
        body: { scopes: ['read'] },
      });
      expect(same.status, same.text).toBe(201);
      expect(same.body.token.scopes).toEqual(['read']);
    });
  });
});
