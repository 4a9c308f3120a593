/**
 * Teams, members and experiment deletion over HTTP: the authorization matrix of every new route (refused cells store
 * nothing, not even an audit entry), then the behaviour of each route, bad input included.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/contract/errors.ts';
import type {
  CreateTeamResponse,
  DeleteExperimentResponse,
  ListAuditResponse,
  ListExperimentsResponse,
  ListMembersResponse,
  ListTeamsResponse,
  RemoveMemberResponse,
  SetMemberResponse,
} from '../../src/contract/wire.ts';
import { mintToken } from '../../src/core/tokens.ts';
import {
  type CallOptions,
  createExperiment,
  expectError,
  type Harness,
  mintUserToken,
  publish,
  route,
  startHarness,
  TEAM,
  text,
  uniqueKey,
} from './helpers.ts';
import { auditOf, teamRoute, teamState } from './team-helpers.ts';

const OTHER_TEAM = 'other-team';
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
  'readOnly',
  'worker',
  'admin',
] as const;
type Cred = (typeof CREDS)[number];
// createTeam last: its allowed cells make the caller an admin of a new team, which would change the other rows.
const ROUTES = ['listTeams', 'members', 'setMember', 'removeMember', 'audit', 'delete', 'createTeam'] as const;
type RouteName = (typeof ROUTES)[number];

type Expect = { status: number; code?: ErrorCode };
const U: Expect = { status: 401, code: 'E_UNAUTHENTICATED' };
const X: Expect = { status: 401, code: 'E_TOKEN_EXPIRED' };
const F: Expect = { status: 403, code: 'E_FORBIDDEN' };
const OK: Expect = { status: 200 };
const NEW: Expect = { status: 201 };

// readOnly: an admin of `local` whose token has only the `read` scope (acts as a viewer).
// worker: a worker token bound to team `local` (no team roles, not a person).
// biome-ignore format: the matrix is easier to read as a table
const MATRIX: Record<RouteName, Expect[]> = {
  //             none malformed basic unknown expired revoked otherTeam noTeam viewer editor readOnly worker admin
  createTeam:   [U,   U,        U,    U,      X,      U,      NEW,      NEW,   NEW,   NEW,   F,       F,     NEW],
  listTeams:    [U,   U,        U,    U,      X,      U,      OK,       OK,    OK,    OK,    OK,      F,     OK ],
  members:      [U,   U,        U,    U,      X,      U,      F,        F,     OK,    OK,    OK,      F,     OK ],
  setMember:    [U,   U,        U,    U,      X,      U,      F,        F,     F,     F,     F,       F,     NEW],
  removeMember: [U,   U,        U,    U,      X,      U,      F,        F,     F,     F,     F,       F,     OK ],
  audit:        [U,   U,        U,    U,      X,      U,      F,        F,     F,     F,     F,       F,     OK ],
  delete:       [U,   U,        U,    U,      X,      U,      F,        F,     F,     F,     F,       F,     OK ],
};

let h: Harness;
const creds = {} as Record<Cred, CallOptions>;
let seq = 0;

async function newUser(prefix: string, teams: Record<string, 'viewer' | 'editor' | 'admin'> = {}) {
  seq += 1;
  const id = `${prefix}-${seq}-${randomBytes(3).toString('hex')}`;
  return { id, token: await mintUserToken(h, id, teams) };
}

beforeAll(async () => {
  h = await startHarness();
  // The local admin joins many teams here (it creates some), so its calls name team local unless told otherwise.
  const raw = h.call;
  h.call = (method, path, o = {}) =>
    raw(
      method,
      path,
      o.token === undefined && o.authorization === undefined && o.team === undefined ? { ...o, team: TEAM } : o,
    );
  const past = new Date(Date.now() - 60_000);
  creds.none = { token: null };
  creds.malformed = { authorization: 'Bearer not-a-token' };
  creds.basic = { authorization: `Basic ${Buffer.from('local:pw').toString('base64')}` };
  creds.unknown = { token: `slt_${randomBytes(32).toString('base64url')}` };
  creds.expired = { token: await mintUserToken(h, 'expired-admin', { [TEAM]: 'admin' }, { expiresAt: past }) };
  creds.revoked = { token: await mintUserToken(h, 'revoked-admin', { [TEAM]: 'admin' }, { revoked: true }) };
  creds.otherTeam = { token: await mintUserToken(h, 'mallory', { [OTHER_TEAM]: 'admin' }), team: TEAM };
  creds.noTeam = { token: await mintUserToken(h, 'nobody', {}) };
  creds.viewer = { token: await mintUserToken(h, 'vera', { [TEAM]: 'viewer' }) };
  creds.editor = { token: await mintUserToken(h, 'eddie', { [TEAM]: 'editor' }) };
  await h.meta.putUser({ id: 'rhoda', name: 'rhoda', createdAt: new Date().toISOString() });
  await h.meta.setMembership(TEAM, 'rhoda', 'admin');
  const ro = await mintToken(h.meta, {
    userId: 'rhoda',
    kind: 'personal',
    scopes: ['read'],
    expiresAt: null,
    now: new Date(),
  });
  creds.readOnly = { token: ro.secret };
  const worker = await mintToken(h.meta, {
    userId: 'local',
    kind: 'worker',
    scopes: ['*'],
    expiresAt: null,
    now: new Date(),
    binding: { team: TEAM, queue: 'q' },
  });
  creds.worker = { token: worker.secret };
  creds.admin = {};
});
afterAll(async () => {
  await h?.close();
});

/** One valid request per route (fresh targets each time), so the credential is the only thing that can fail it. */
async function request(r: RouteName): Promise<{ method: string; path: string; body?: unknown }> {
  switch (r) {
    case 'createTeam':
      return { method: 'POST', path: teamRoute.teams(), body: { id: uniqueKey('team') } };
    case 'listTeams':
      return { method: 'GET', path: teamRoute.teams() };
    case 'members':
      return { method: 'GET', path: teamRoute.members(TEAM) };
    case 'setMember': {
      const u = await newUser('joiner');
      return { method: 'PUT', path: teamRoute.member(TEAM, u.id), body: { role: 'viewer' } };
    }
    case 'removeMember': {
      const u = await newUser('leaver', { [TEAM]: 'viewer' });
      return { method: 'DELETE', path: teamRoute.member(TEAM, u.id) };
    }
    case 'audit':
      return { method: 'GET', path: teamRoute.audit() };
    case 'delete': {
      const key = uniqueKey('doomed');
      await createExperiment(h, key);
      await h.call('POST', route.finish(key), { body: { status: 'finished', exitCode: 0 } });
      return { method: 'DELETE', path: teamRoute.experiment(key) };
    }
  }
}

describe.each(ROUTES)('route %s', (r) => {
  const cells = CREDS.map((c, i) => {
    const want = MATRIX[r][i] as Expect;
    return [c, `${want.status}${want.code ? ` ${want.code}` : ''}`, want] as const;
  });
  it.each(cells)('%s -> %s', async (cred, _label, want) => {
    const req = await request(r);
    const before = teamState(h);
    const res = await h.call(req.method, req.path, { ...creds[cred], body: req.body });
    if (want.code) {
      expectError(res, want.status, want.code);
      expect(teamState(h)).toEqual(before);
      expect(res.text).not.toContain('vera'); // no member names in refusals
      return;
    }
    expect(res.status, res.text).toBe(want.status);
    // Reads change nothing; every allowed write changed something and was audited.
    const after = teamState(h);
    if (r === 'listTeams' || r === 'members' || r === 'audit') expect(after).toEqual(before);
    else expect(after.audit.length).toBe(before.audit.length + 1);
  });
});

describe('POST /v1/teams', () => {
  it('creates the team with the caller as its only admin, audited; GET /v1/teams lists it', async () => {
    const u = await newUser('founder');
    const id = uniqueKey('t');
    const res = await h.call<CreateTeamResponse>('POST', teamRoute.teams(), { token: u.token, body: { id } });
    expect(res.status, res.text).toBe(201);
    expect(res.body.team).toMatchObject({ id, createdBy: u.id });
    const mine = await h.call<ListTeamsResponse>('GET', teamRoute.teams(), { token: u.token });
    expect(mine.body.teams).toEqual([{ id, role: 'admin', effectiveRole: 'admin' }]);
    const members = await h.call<ListMembersResponse>('GET', teamRoute.members(id), { token: u.token });
    expect(members.body.members).toEqual([{ userId: u.id, role: 'admin', name: u.id, email: null }]);
    const audit = await auditOf(h, id, { token: u.token });
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({ team: id, action: 'team.create', target: id, actor: { userId: u.id } });
  });

  it('a taken id is E_CONFLICT (also `local`, which has members but was made before team records)', async () => {
    const u = await newUser('squatter');
    const id = uniqueKey('t');
    expect((await h.call('POST', teamRoute.teams(), { body: { id } })).status).toBe(201);
    for (const taken of [id, TEAM, OTHER_TEAM]) {
      const before = teamState(h);
      expectError(await h.call('POST', teamRoute.teams(), { token: u.token, body: { id: taken } }), 409, 'E_CONFLICT');
      expect(teamState(h)).toEqual(before);
    }
  });

  it('bad ids and bodies: E_BAD_KEY / E_BAD_REQUEST / E_BAD_JSON, nothing stored', async () => {
    const cases: [unknown, number, ErrorCode][] = [
      [{ id: '..' }, 400, 'E_BAD_KEY'],
      [{ id: 'a..b' }, 400, 'E_BAD_KEY'],
      [{ id: '-lead' }, 400, 'E_BAD_KEY'],
      [{ id: 'sl/ash' }, 400, 'E_BAD_KEY'],
      [{ id: 'sp ace' }, 400, 'E_BAD_KEY'],
      [{ id: 'x'.repeat(129) }, 400, 'E_BAD_REQUEST'],
      [{ id: '' }, 400, 'E_BAD_REQUEST'],
      [{ id: 7 }, 400, 'E_BAD_REQUEST'],
      [{}, 400, 'E_BAD_REQUEST'],
      [{ id: 'ok-id', admin: 'someone' }, 400, 'E_BAD_REQUEST'],
      [[], 400, 'E_BAD_REQUEST'],
    ];
    for (const [body, status, code] of cases) {
      const before = teamState(h);
      expectError(await h.call('POST', teamRoute.teams(), { body }), status, code);
      expect(teamState(h)).toEqual(before);
    }
    const before = teamState(h);
    expectError(await h.call('POST', teamRoute.teams(), { raw: '{"id":' }), 400, 'E_BAD_JSON');
    expect(teamState(h)).toEqual(before);
  });
});

describe('PUT /v1/teams/:team/members/:user', () => {
  it('adds by id (201) and by email, changes a role (200), same role again changes nothing (no audit)', async () => {
    const a = await newUser('amy');
    const b = await newUser('ben');
    await h.meta.putUser({ id: b.id, name: 'Ben', email: `${b.id}@Example.org`, createdAt: new Date().toISOString() });
    const add = await h.call<SetMemberResponse>('PUT', teamRoute.member(TEAM, a.id), { body: { role: 'editor' } });
    expect(add.status, add.text).toBe(201);
    expect(add.body).toMatchObject({ team: TEAM, changed: true, previousRole: null, member: { userId: a.id } });
    const byEmail = await h.call<SetMemberResponse>('PUT', teamRoute.member(TEAM, `${b.id}@example.ORG`), {
      body: { role: 'viewer' },
    });
    expect(byEmail.status, byEmail.text).toBe(201);
    expect(byEmail.body.member).toEqual({ userId: b.id, role: 'viewer', name: 'Ben', email: `${b.id}@example.org` });
    const up = await h.call<SetMemberResponse>('PUT', teamRoute.member(TEAM, a.id), { body: { role: 'admin' } });
    expect(up.status).toBe(200);
    expect(up.body).toMatchObject({ changed: true, previousRole: 'editor' });
    const before = teamState(h);
    const same = await h.call<SetMemberResponse>('PUT', teamRoute.member(TEAM, a.id), { body: { role: 'admin' } });
    expect(same.status).toBe(200);
    expect(same.body.changed).toBe(false);
    expect(teamState(h)).toEqual(before);
    const audit = (await auditOf(h, TEAM)).filter((e) => e.target === a.id || e.target === b.id);
    expect(audit.map((e) => [e.action, e.target, e.details])).toEqual([
      ['member.update', a.id, { role: 'admin', previousRole: 'editor' }],
      ['member.add', b.id, { role: 'viewer', previousRole: null }],
      ['member.add', a.id, { role: 'editor', previousRole: null }],
    ]);
    // The new member acts in the team on their next request.
    expect((await h.call('GET', route.experiments(), { token: b.token, team: TEAM })).status).toBe(200);
  });

  it('an unknown user or email is E_NOT_FOUND with what to do; nothing stored', async () => {
    for (const who of ['ghost-user', 'ghost@example.org']) {
      const before = teamState(h);
      const res = await h.call('PUT', teamRoute.member(TEAM, who), { body: { role: 'viewer' } });
      expectError(res, 404, 'E_NOT_FOUND');
      expect(res.text).toMatch(/sign in once/);
      expect(teamState(h)).toEqual(before);
    }
  });

  it('bad role, body or team id: 400, nothing stored', async () => {
    const u = await newUser('badrole');
    const cases: [string, CallOptions, ErrorCode][] = [
      [teamRoute.member(TEAM, u.id), { body: { role: 'owner' } }, 'E_BAD_REQUEST'],
      [teamRoute.member(TEAM, u.id), { body: { role: 'Admin' } }, 'E_BAD_REQUEST'],
      [teamRoute.member(TEAM, u.id), { body: {} }, 'E_BAD_REQUEST'],
      [teamRoute.member(TEAM, u.id), { body: { role: 'viewer', extra: 1 } }, 'E_BAD_REQUEST'],
      [teamRoute.member(TEAM, u.id), { raw: 'role=viewer' }, 'E_BAD_JSON'],
      [teamRoute.member('bad..team', u.id), { body: { role: 'viewer' } }, 'E_BAD_KEY'],
    ];
    for (const [path, opts, code] of cases) {
      const before = teamState(h);
      expectError(await h.call('PUT', path, opts), 400, code);
      expect(teamState(h)).toEqual(before);
    }
  });

  it('the last admin cannot demote themself (E_CONFLICT); with a second admin they can', async () => {
    const founder = await newUser('solo');
    const id = uniqueKey('t');
    await h.call('POST', teamRoute.teams(), { token: founder.token, body: { id } });
    const before = teamState(h);
    expectError(
      await h.call('PUT', teamRoute.member(id, founder.id), { token: founder.token, body: { role: 'editor' } }),
      409,
      'E_CONFLICT',
    );
    expect(teamState(h)).toEqual(before);
    const second = await newUser('second');
    await h.call('PUT', teamRoute.member(id, second.id), { token: founder.token, body: { role: 'admin' } });
    const demote = await h.call('PUT', teamRoute.member(id, founder.id), {
      token: founder.token,
      body: { role: 'editor' },
    });
    expect(demote.status, demote.text).toBe(200);
    // Now an editor: administering is refused.
    expectError(
      await h.call('PUT', teamRoute.member(id, founder.id), { token: founder.token, body: { role: 'admin' } }),
      403,
      'E_FORBIDDEN',
    );
  });
});

describe('DELETE /v1/teams/:team/members/:user', () => {
  it('an admin removes a member: their access ends at once; audited', async () => {
    const m = await newUser('gone', { [TEAM]: 'editor' });
    expect((await h.call('GET', route.experiments(), { token: m.token })).status).toBe(200);
    const res = await h.call<RemoveMemberResponse>('DELETE', teamRoute.member(TEAM, m.id));
    expect(res.status, res.text).toBe(200);
    expect(res.body).toEqual({ team: TEAM, userId: m.id, previousRole: 'editor' });
    expectError(await h.call('GET', route.experiments(), { token: m.token, team: TEAM }), 403, 'E_FORBIDDEN');
    const [last] = (await auditOf(h, TEAM)).filter((e) => e.target === m.id);
    expect(last).toMatchObject({
      action: 'member.remove',
      actor: { userId: 'local' },
      details: { previousRole: 'editor' },
    });
    // Removing again: not a member any more.
    expectError(await h.call('DELETE', teamRoute.member(TEAM, m.id)), 404, 'E_NOT_FOUND');
  });

  it('a member may leave (by id or own email); removing anyone else needs admin, before any lookup', async () => {
    const v = await newUser('leaves', { [TEAM]: 'viewer' });
    const w = await newUser('stays', { [TEAM]: 'viewer' });
    await h.meta.putUser({ id: w.id, name: w.id, email: `${w.id}@example.org`, createdAt: new Date().toISOString() });
    for (const target of [w.id, 'ghost@example.org', 'no-such-user']) {
      const before = teamState(h);
      expectError(await h.call('DELETE', teamRoute.member(TEAM, target), { token: v.token }), 403, 'E_FORBIDDEN');
      expect(teamState(h)).toEqual(before);
    }
    const self = await h.call('DELETE', teamRoute.member(TEAM, v.id), { token: v.token });
    expect(self.status, self.text).toBe(200);
    expectError(await h.call('GET', route.experiments(), { token: v.token, team: TEAM }), 403, 'E_FORBIDDEN');
    const byEmail = await h.call('DELETE', teamRoute.member(TEAM, `${w.id}@EXAMPLE.org`), { token: w.token });
    expect(byEmail.status, byEmail.text).toBe(200);
  });

  it('the last admin cannot leave (E_CONFLICT)', async () => {
    const founder = await newUser('lastadmin');
    const id = uniqueKey('t');
    await h.call('POST', teamRoute.teams(), { token: founder.token, body: { id } });
    const before = teamState(h);
    expectError(await h.call('DELETE', teamRoute.member(id, founder.id), { token: founder.token }), 409, 'E_CONFLICT');
    expect(teamState(h)).toEqual(before);
  });
});

describe('two teams: isolation through membership', () => {
  it("alice sees bob's team experiments only while she is a member", async () => {
    const alice = await newUser('alice', { [TEAM]: 'editor' });
    const bob = await newUser('bob');
    const bobs = uniqueKey('bobs');
    await h.call('POST', teamRoute.teams(), { token: bob.token, body: { id: bobs } });
    const key = uniqueKey('bob-exp');
    await createExperiment(h, key, {}, { token: bob.token });
    const asAlice = { token: alice.token, team: bobs };
    expectError(await h.call('GET', route.experiments(), asAlice), 403, 'E_FORBIDDEN');
    expectError(await h.call('GET', route.experiment(key), asAlice), 403, 'E_FORBIDDEN');
    // In her own team the key does not exist.
    expectError(await h.call('GET', route.experiment(key), { token: alice.token }), 404, 'E_NOT_FOUND');
    await h.call('PUT', teamRoute.member(bobs, alice.id), { token: bob.token, body: { role: 'viewer' } });
    const list = await h.call<ListExperimentsResponse>('GET', route.experiments(), asAlice);
    expect(list.body.experiments.map((e) => e.key)).toEqual([key]);
    // Two teams now: without a header she must choose.
    expectError(await h.call('GET', route.experiments(), { token: alice.token }), 400, 'E_BAD_REQUEST');
    await h.call('DELETE', teamRoute.member(bobs, alice.id), { token: bob.token });
    expectError(await h.call('GET', route.experiments(), asAlice), 403, 'E_FORBIDDEN');
  });
});

describe('DELETE /v1/experiments/:key', () => {
  it('removes a finished experiment with its artifacts and versions; audited with the counts', async () => {
    const key = uniqueKey('del');
    await createExperiment(h, key);
    await publish(h, key, 'model', [{ path: 'a.txt', data: text('one') }]);
    await publish(h, key, 'model', [{ path: 'a.txt', data: text('two') }]);
    await h.call('POST', route.finish(key), { body: { status: 'finished', exitCode: 0 } });
    const res = await h.call<DeleteExperimentResponse>('DELETE', teamRoute.experiment(key));
    expect(res.status, res.text).toBe(200);
    expect(res.body.deleted).toEqual({ key, status: 'finished', artifacts: 1, versions: 2 });
    expectError(await h.call('GET', route.experiment(key)), 404, 'E_NOT_FOUND');
    expectError(await h.call('GET', route.version(key, 'model', 1)), 404, 'E_NOT_FOUND');
    expectError(await h.call('DELETE', teamRoute.experiment(key)), 404, 'E_NOT_FOUND');
    const audit = await h.call<ListAuditResponse>('GET', teamRoute.audit({ action: 'experiment.delete' }));
    expect(audit.body.entries.find((e) => e.target === key)?.details).toEqual({
      artifacts: 1,
      versions: 2,
      status: 'finished',
      owner: 'local',
      forced: false,
    });
    // The key can be used again.
    await createExperiment(h, key);
  });

  it('refuses a running experiment unless force=true (E_CONFLICT, nothing changed)', async () => {
    const key = uniqueKey('running');
    await createExperiment(h, key);
    const before = teamState(h);
    for (const q of [undefined, 'false'] as const) {
      expectError(await h.call('DELETE', teamRoute.experiment(key, q)), 409, 'E_CONFLICT');
    }
    for (const bad of ['yes', '1', '']) {
      expectError(await h.call('DELETE', teamRoute.experiment(key, bad)), 400, 'E_BAD_REQUEST');
    }
    expect(teamState(h)).toEqual(before);
    const res = await h.call<DeleteExperimentResponse>('DELETE', teamRoute.experiment(key, true));
    expect(res.status, res.text).toBe(200);
    expect(res.body.deleted.status).toBe('running');
    const [entry] = (await auditOf(h, TEAM)).filter((e) => e.target === key);
    expect(entry?.details.forced).toBe(true);
  });

  it('a forced delete of a queued run ends its job, so no worker leases it', async () => {
    const key = uniqueKey('queued');
    await createExperiment(h, key, { queued: true });
    const submit = await h.call('POST', `/v1/experiments/${key}/job`, {
      body: { queue: 'q-del', spec: { command: ['true'] } },
    });
    expect(submit.status, submit.text).toBe(201);
    expectError(await h.call('DELETE', teamRoute.experiment(key)), 409, 'E_CONFLICT');
    const res = await h.call<DeleteExperimentResponse>('DELETE', teamRoute.experiment(key, true));
    expect(res.status, res.text).toBe(200);
    // Its job was stopped, then removed with the experiment (the key can be queued again).
    expect(await h.server.backend.deps.jobs?.getJob(TEAM, key)).toBeNull();
    const lease = await h.call<{ lease: unknown }>('POST', '/v1/queues/q-del/lease', {
      body: { worker: { id: 'w' }, waitSeconds: 0 },
    });
    expect(lease.status, lease.text).toBe(200);
    expect(lease.body.lease).toBeNull();
  });

  it('an editor deletes their own experiment but not somebody else’s; bad keys are E_BAD_KEY', async () => {
    const ed = await newUser('owner', { [TEAM]: 'editor' });
    const mine = uniqueKey('mine');
    await createExperiment(h, mine, {}, { token: ed.token });
    const theirs = uniqueKey('theirs');
    await createExperiment(h, theirs);
    await h.call('POST', route.finish(mine), { body: { status: 'failed', exitCode: 1 } });
    await h.call('POST', route.finish(theirs), { body: { status: 'failed', exitCode: 1 } });
    const before = teamState(h);
    const refused = await h.call('DELETE', teamRoute.experiment(theirs), { token: ed.token });
    expectError(refused, 403, 'E_FORBIDDEN');
    expect(teamState(h)).toEqual(before);
    const ok = await h.call('DELETE', teamRoute.experiment(mine), { token: ed.token });
    expect(ok.status, ok.text).toBe(200);
    expectError(await h.call('DELETE', teamRoute.experiment('a..b')), 400, 'E_BAD_KEY');
  });
});
