/**
 * Authentication and authorization on every route, as one matrix (route x credential -> status/code). Every refused
 * cell also asserts that nothing was stored and that the answer names nothing of the team's data.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  CreateExperimentResponse,
  DownloadResponse,
  GetVersionResponse,
  ListExperimentsResponse,
  PlanUploadResponse,
  ShowExperimentResponse,
  WhoAmIResponse,
} from '../../src/api/wire.ts';
import type { ErrorCode } from '../../src/core/errors.ts';
import {
  type CallOptions,
  commit,
  createExperiment,
  expectError,
  type Harness,
  manifestOf,
  mintUserToken,
  publish,
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

// ---------------------------------------------------------------------------------------------------------------
// Credentials
//   none       no Authorization header
//   malformed  "Bearer not-a-token"
//   basic      "Basic …" (not a bearer scheme)
//   unknown    well-formed slt_ token the server never minted
//   expired    minted for an admin of `local`, expiresAt in the past
//   revoked    minted for an admin of `local`, then revoked
//   otherTeam  valid token of an admin of another team, asking for team `local` (x-studio-team: local)
//   noTeam     valid token of a user with no membership at all
//   viewer     viewer of `local`
//   editor     editor of `local`
// ---------------------------------------------------------------------------------------------------------------
const CREDS = [
  'none',
  'malformed',
  'basic',
  'unknown',
  'expired',
  'revoked',
  'otherTeam',
  'noTeam',
  'viewer',
  'editor',
] as const;
type Cred = (typeof CREDS)[number];

const ROUTES = ['whoami', 'create', 'list', 'show', 'finish', 'uploads', 'commit', 'version', 'downloads'] as const;
type RouteName = (typeof ROUTES)[number];

type Expect = { status: number; code?: ErrorCode };
const U: Expect = { status: 401, code: 'E_UNAUTHENTICATED' };
const X: Expect = { status: 401, code: 'E_TOKEN_EXPIRED' };
const F: Expect = { status: 403, code: 'E_FORBIDDEN' };
const OK: Expect = { status: 200 };
const NEW: Expect = { status: 201 };

// biome-ignore format: the matrix is easier to read as a table
const MATRIX: Record<RouteName, [Expect, Expect, Expect, Expect, Expect, Expect, Expect, Expect, Expect, Expect]> = {
  //          none malformed basic unknown expired revoked otherTeam noTeam viewer editor
  whoami:    [U,   U,        U,    U,      X,      U,      F,        OK,    OK,    OK ],
  create:    [U,   U,        U,    U,      X,      U,      F,        F,     F,     NEW],
  list:      [U,   U,        U,    U,      X,      U,      F,        F,     OK,    OK ],
  show:      [U,   U,        U,    U,      X,      U,      F,        F,     OK,    OK ],
  finish:    [U,   U,        U,    U,      X,      U,      F,        F,     F,     OK ],
  uploads:   [U,   U,        U,    U,      X,      U,      F,        F,     F,     OK ],
  commit:    [U,   U,        U,    U,      X,      U,      F,        F,     F,     NEW],
  version:   [U,   U,        U,    U,      X,      U,      F,        F,     OK,    OK ],
  downloads: [U,   U,        U,    U,      X,      U,      F,        F,     OK,    OK ],
};

let h: Harness;
const target = uniqueKey('authz-target'); // running, artifact model@1
const finishTarget = uniqueKey('authz-finish'); // running; only the editor cell may finish it
const blob = text('team data that outsiders must not see\n');
const creds = {} as Record<Cred, CallOptions>;
let seq = 0;

beforeAll(async () => {
  h = await startHarness();
  await createExperiment(h, target, { project: 'authz' });
  await publish(h, target, 'model', [{ path: 'data.txt', data: blob }]);
  await createExperiment(h, finishTarget);
  const past = new Date(Date.now() - 60_000);
  creds.none = { token: null };
  creds.malformed = { authorization: 'Bearer not-a-token' };
  creds.basic = { authorization: `Basic ${Buffer.from('local:password').toString('base64')}` };
  creds.unknown = { token: `slt_${randomBytes(32).toString('base64url')}` };
  creds.expired = { token: await mintUserToken(h, 'expired-user', { [TEAM]: 'admin' }, { expiresAt: past }) };
  creds.revoked = { token: await mintUserToken(h, 'revoked-user', { [TEAM]: 'admin' }, { revoked: true }) };
  creds.otherTeam = { token: await mintUserToken(h, 'mallory', { [OTHER_TEAM]: 'admin' }), team: TEAM };
  creds.noTeam = { token: await mintUserToken(h, 'nobody', {}) };
  creds.viewer = { token: await mintUserToken(h, 'vera', { [TEAM]: 'viewer' }) };
  creds.editor = { token: await mintUserToken(h, 'eddie', { [TEAM]: 'editor' }) };
});
afterAll(async () => {
  await h?.close();
});

/** One valid request per route, so that the credential is the only thing that can make it fail. */
function request(r: RouteName): { method: string; path: string; body?: unknown } {
  seq += 1;
  switch (r) {
    case 'whoami':
      return { method: 'GET', path: route.whoami() };
    case 'create':
      return { method: 'POST', path: route.experiments(), body: { key: uniqueKey('authz-new') } };
    case 'list':
      return { method: 'GET', path: route.experiments() };
    case 'show':
      return { method: 'GET', path: route.experiment(target) };
    case 'finish':
      return { method: 'POST', path: route.finish(finishTarget), body: { status: 'finished', exitCode: 0 } };
    case 'uploads':
      return {
        method: 'POST',
        path: route.uploads(target, 'model'),
        body: { blobs: [{ sha256: sha256(`new blob ${seq}`), size: 10 }] },
      };
    case 'commit':
      return {
        method: 'POST',
        path: route.versions(target, 'model'),
        body: { mutable: true, manifest: manifestOf([{ path: `data-${seq}.txt`, data: blob }]) },
      };
    case 'version':
      return { method: 'GET', path: route.version(target, 'model', 1) };
    case 'downloads':
      return { method: 'POST', path: route.downloads(target, 'model', 1), body: { sha256s: [sha256(blob)] } };
  }
}

describe.each(ROUTES)('route %s', (r) => {
  const cells = CREDS.map((c, i) => {
    const want = MATRIX[r][i] as Expect;
    return [c, `${want.status}${want.code ? ` ${want.code}` : ''}`, want] as const;
  });
  it.each(cells)('%s -> %s', async (cred, _label, want) => {
    const req = request(r);
    const before = await h.snapshot();
    const res = await h.call(req.method, req.path, { ...creds[cred], body: req.body });
    if (want.code) {
      expectError(res, want.status, want.code);
      expect(await h.snapshot()).toEqual(before);
      expect(res.text).not.toContain(target);
      expect(res.text).not.toContain(sha256(blob));
      return;
    }
    expect(res.status, res.text).toBe(want.status);
    // The allowed cells really did what the route does.
    switch (r) {
      case 'whoami':
        // Someone in no team yet may still ask who they are (after their first sign-in), with team null.
        expect((res.body as WhoAmIResponse).team).toBe(cred === 'noTeam' ? null : TEAM);
        break;
      case 'create':
        expect((res.body as CreateExperimentResponse).experiment.owner).toBe('eddie');
        break;
      case 'list':
        expect((res.body as ListExperimentsResponse).experiments.map((e) => e.key)).toContain(target);
        break;
      case 'show':
        expect((res.body as ShowExperimentResponse).artifacts[0]?.tag).toBe('model');
        break;
      case 'finish':
        expect((await h.meta.getExperiment(TEAM, finishTarget))?.status).toBe('finished');
        break;
      case 'uploads':
        expect((res.body as PlanUploadResponse).packs).toHaveLength(1);
        break;
      case 'commit':
        expect((res.body as { created: boolean }).created).toBe(true);
        break;
      case 'version':
        expect((res.body as GetVersionResponse).version.manifest.files[0]?.sha256).toBe(sha256(blob));
        break;
      case 'downloads': {
        const b = (res.body as DownloadResponse).blobs[0];
        const got = await send(b?.request as DownloadResponse['blobs'][0]['request']);
        expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(blob))).toBe(true);
        break;
      }
    }
  });
});

describe('a member of another team without x-studio-team', () => {
  let mallory: CallOptions;
  beforeAll(async () => {
    mallory = { token: await mintUserToken(h, 'mallory-2', { [OTHER_TEAM]: 'admin' }) };
  });

  it('is placed in its own team and sees none of team local', async () => {
    const who = await h.call<WhoAmIResponse>('GET', route.whoami(), mallory);
    expect(who.status).toBe(200);
    expect(who.body.team).toBe(OTHER_TEAM);
    const list = await h.call<ListExperimentsResponse>('GET', route.experiments(), mallory);
    expect(list.status).toBe(200);
    expect(list.body.experiments).toEqual([]);
    const byProject = await h.call<ListExperimentsResponse>('GET', `${route.experiments()}?project=authz`, mallory);
    expect(byProject.body.experiments).toEqual([]);
  });

  it("gets 404 for team local's experiment on every route, and nothing changes", async () => {
    const before = await h.snapshot();
    const cases: [string, string, unknown][] = [
      ['GET', route.experiment(target), undefined],
      ['GET', route.version(target, 'model', 1), undefined],
      ['GET', route.version(target, 'model', 'latest'), undefined],
      ['POST', route.downloads(target, 'model', 1), { sha256s: [sha256(blob)] }],
      ['POST', route.uploads(target, 'model'), { blobs: [{ sha256: sha256('x'), size: 1 }] }],
      [
        'POST',
        route.versions(target, 'model'),
        { mutable: true, manifest: manifestOf([{ path: 'evil', data: blob }]) },
      ],
      ['POST', route.finish(target), { status: 'failed', exitCode: 1 }],
    ];
    for (const [method, path, body] of cases) {
      const res = await h.call(method, path, { ...mallory, body });
      expectError(res, 404, 'E_NOT_FOUND');
      expect(res.text).not.toContain(sha256(blob));
    }
    expect(await h.snapshot()).toEqual(before);
  });

  it('creates in its own team only; a hash team local has is neither "present" nor committable for it', async () => {
    const k = uniqueKey('mallory-exp');
    await createExperiment(h, k, {}, mallory);
    expect(await h.meta.getExperiment(OTHER_TEAM, k)).not.toBeNull();
    expect(await h.meta.getExperiment(TEAM, k)).toBeNull();
    // Same key in both teams stays two experiments.
    await createExperiment(h, target, {}, mallory);
    expect((await h.meta.getExperiment(TEAM, target))?.owner).toBe('local');

    const plan = await h.call<PlanUploadResponse>('POST', route.uploads(k, 'steal'), {
      ...mallory,
      body: { blobs: [{ sha256: sha256(blob), size: blob.length }] },
    });
    expect(plan.status).toBe(200);
    expect(plan.body.present).toBe(0);
    const res = await commit(h, k, 'steal', manifestOf([{ path: 'x', data: blob }]), true, {}, mallory);
    expectError(res, 409, 'E_BLOB_MISSING');

    const local = await h.call<ListExperimentsResponse>('GET', route.experiments());
    expect(local.body.experiments.map((e) => e.key)).not.toContain(k);
    expect(local.body.experiments.every((e) => e.team === TEAM)).toBe(true);
  });
});

describe('team selection', () => {
  it('a member of two teams must choose one: no header -> 400 E_BAD_REQUEST; a header picks it', async () => {
    const token = await mintUserToken(h, 'two-teams', { [TEAM]: 'viewer', [OTHER_TEAM]: 'editor' });
    expectError(await h.call('GET', route.experiments(), { token }), 400, 'E_BAD_REQUEST');
    const local = await h.call<ListExperimentsResponse>('GET', route.experiments(), { token, team: TEAM });
    expect(local.status).toBe(200);
    expect(local.body.experiments.map((e) => e.key)).toContain(target);
    const other = await h.call<WhoAmIResponse>('GET', route.whoami(), { token, team: OTHER_TEAM });
    expect(other.body.team).toBe(OTHER_TEAM);
    // Its viewer role in `local` still forbids writes there.
    expectError(
      await h.call('POST', route.experiments(), { token, team: TEAM, body: { key: uniqueKey() } }),
      403,
      'E_FORBIDDEN',
    );
  });

  it('the local admin asking for a team it is not in -> 403 E_FORBIDDEN', async () => {
    expectError(await h.call('GET', route.experiments(), { team: OTHER_TEAM }), 403, 'E_FORBIDDEN');
  });
});

describe('token lifecycle', () => {
  it('a token stops working as soon as it is revoked', async () => {
    const token = await mintUserToken(h, 'rita', { [TEAM]: 'editor' });
    expect((await h.call('GET', route.whoami(), { token })).status).toBe(200);
    const rec = await h.meta.getTokenByHash(sha256(token));
    await h.meta.revokeToken(rec?.id as string, new Date().toISOString());
    expectError(await h.call('GET', route.whoami(), { token }), 401, 'E_UNAUTHENTICATED');
  });

  it('a removed membership takes effect on the next request', async () => {
    const token = await mintUserToken(h, 'leaver', { [TEAM]: 'editor' });
    const k = uniqueKey('leaver');
    await createExperiment(h, k, {}, { token });
    await h.meta.setMembership(TEAM, 'leaver', null);
    expectError(
      await h.call('POST', route.finish(k), { token, body: { status: 'finished', exitCode: 0 } }),
      403,
      'E_FORBIDDEN',
    );
    expect((await h.meta.getExperiment(TEAM, k))?.status).toBe('running');
  });

  it('empty bearer and lowercase/garbled schemes -> 401', async () => {
    for (const authorization of [
      'Bearer ',
      'Bearer',
      'Token abc',
      `Bearer ${h.token}x`,
      `Bearer ${h.token.slice(0, -1)}`,
    ]) {
      expectError(await h.call('GET', route.whoami(), { authorization }), 401, 'E_UNAUTHENTICATED');
    }
  });

  it('a viewer can download but cannot upload, commit or finish', async () => {
    const viewer = creds.viewer;
    const data = text('viewer upload attempt');
    const before = await h.snapshot();
    expectError(
      await h.call('POST', route.uploads(target, 'model'), {
        ...viewer,
        body: { blobs: [{ sha256: sha256(data), size: data.length }] },
      }),
      403,
      'E_FORBIDDEN',
    );
    expect(await h.snapshot()).toEqual(before);
    // Even for a blob that is already stored, committing needs the editor role.
    await uploadBlobs(h, target, 'model', [data]);
    const mid = await h.snapshot();
    expectError(
      await commit(h, target, 'model', manifestOf([{ path: 'v', data }]), true, {}, viewer),
      403,
      'E_FORBIDDEN',
    );
    expect(await h.snapshot()).toEqual(mid);
  });
});
