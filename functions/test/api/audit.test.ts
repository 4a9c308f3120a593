/**
 * The audit log over HTTP: every audited action leaves exactly the expected entry (who, what, when) in the right
 * teams and never a secret or token hash; refused requests leave none; GET /v1/audit pages, filters and validates.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ErrorCode } from '../../src/contract/errors.ts';
import type { AuditEntry } from '../../src/contract/model.ts';
import type { CreateTokenResponse, DownloadResponse, ListAuditResponse } from '../../src/contract/wire.ts';
import { hashToken } from '../../src/core/tokens.ts';
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
  sha256,
  startHarness,
  TEAM,
  text,
  uniqueKey,
  uploadBlobs,
} from './helpers.ts';
import { allAuditRows, auditOf, leaseJobToken, teamRoute, teamState } from './team-helpers.ts';

let h: Harness;
let seq = 0;
beforeAll(async () => {
  h = await startHarness();
  const raw = h.call;
  h.call = (method, path, o = {}) =>
    raw(
      method,
      path,
      o.token === undefined && o.authorization === undefined && o.team === undefined ? { ...o, team: TEAM } : o,
    );
});
afterAll(async () => {
  await h?.close();
});

const fresh = (p: string) => `${p}-${++seq}-${randomBytes(3).toString('hex')}`;

describe('every audited action leaves one entry', () => {
  it('team.create, member.add/update/remove, token.create/revoke, experiment.delete, download.sign', async () => {
    const admin = fresh('ada');
    const adminTok = await mintUserToken(h, admin, {});
    const as: CallOptions = { token: adminTok };
    const team = fresh('audited');
    const start = Date.now();
    expect((await h.call('POST', teamRoute.teams(), { ...as, body: { id: team } })).status).toBe(201);
    const member = fresh('mo');
    const memberTok = await mintUserToken(h, member, {});
    await h.call('PUT', teamRoute.member(team, member), { ...as, body: { role: 'viewer' } });
    await h.call('PUT', teamRoute.member(team, member), { ...as, body: { role: 'editor' } });
    const tok = await h.call<CreateTokenResponse>('POST', '/v1/tokens', { ...as, body: { scopes: ['read'] } });
    await h.call('DELETE', `/v1/tokens/${tok.body.token.id}`, as);
    const key = fresh('exp');
    await createExperiment(h, key, {}, { token: memberTok });
    const data = text('audited bytes\n');
    await publish2(key, data, { token: memberTok });
    const dl = await h.call<DownloadResponse>('POST', route.downloads(key, 'model', 1), {
      token: memberTok,
      body: { sha256s: [sha256(data)] },
    });
    expect(dl.status, dl.text).toBe(200);
    await h.call('POST', route.finish(key), { token: memberTok, body: { status: 'finished', exitCode: 0 } });
    expect((await h.call('DELETE', teamRoute.experiment(key), as)).status).toBe(200);
    expect((await h.call('DELETE', teamRoute.member(team, member), as)).status).toBe(200);

    const entries = await auditOf(h, team, as);
    const summary = entries.map((e) => [e.action, e.actor.userId, e.target]).reverse();
    expect(summary).toEqual([
      ['team.create', admin, team],
      ['member.add', admin, member],
      ['member.update', admin, member],
      ['token.create', admin, tok.body.token.id],
      ['token.revoke', admin, tok.body.token.id],
      ['download.sign', member, `${key}/model@1`],
      ['experiment.delete', admin, key],
      ['member.remove', admin, member],
    ]);
    for (const e of entries) {
      expect(e.team).toBe(team);
      expect(Date.parse(e.at)).toBeGreaterThanOrEqual(start - 1000);
      expect(Date.parse(e.at)).toBeLessThanOrEqual(Date.now());
      expect(e.actor.tokenId).toEqual(expect.any(String));
      expect(e.actor.kind).toBe('personal');
    }
    const byAction = (a: AuditEntry['action']) => entries.find((e) => e.action === a) as AuditEntry;
    expect(byAction('download.sign').details).toEqual({ blobs: 1, bytes: data.length });
    expect(byAction('token.create').details).toMatchObject({ owner: admin, kind: 'personal', scopes: ['read'] });
    expect(byAction('experiment.delete').details).toMatchObject({ artifacts: 1, versions: 1, status: 'finished' });
    // Ids sort by time: newest first by id equals newest first by time.
    expect(entries.map((e) => e.id)).toEqual([...entries.map((e) => e.id)].sort().reverse());
  });
});

async function publish2(key: string, data: Uint8Array, opts: CallOptions): Promise<void> {
  await uploadBlobs(h, key, 'model', [data], opts);
  const res = await commit(h, key, 'model', manifestOf([{ path: 'f.txt', data }]), true, {}, opts);
  expect(res.status, res.text).toBe(201);
}

describe('token events', () => {
  it('go to every team of the owner; never the secret or its hash (API answers and stored rows)', async () => {
    const u = fresh('multi');
    const t1 = fresh('ta');
    const t2 = fresh('tb');
    const tok = await mintUserToken(h, u, {});
    await h.call('POST', teamRoute.teams(), { token: tok, body: { id: t1 } });
    await h.call('POST', teamRoute.teams(), { token: tok, body: { id: t2 } });
    const created = await h.call<CreateTokenResponse>('POST', '/v1/tokens', { token: tok, body: {} });
    expect(created.status).toBe(201);
    const { secret, token } = created.body;
    const revoked = await h.call('DELETE', `/v1/tokens/${token.id}`, { token: tok });
    expect(revoked.status).toBe(200);
    for (const t of [t1, t2]) {
      const res = await h.call<ListAuditResponse>('GET', teamRoute.audit(), { token: tok, team: t });
      const mine = res.body.entries.filter((e) => e.target === token.id);
      expect(mine.map((e) => e.action)).toEqual(['token.revoke', 'token.create']);
      expect(res.text).not.toContain(secret);
      expect(res.text).not.toContain(hashToken(secret));
      expect(res.text).not.toContain(hashToken(tok));
    }
    const stored = JSON.stringify(teamState(h).audit);
    expect(stored).not.toContain(secret);
    expect(stored).not.toContain(hashToken(secret));
    expect(stored).not.toMatch(/slt_[A-Za-z0-9_-]{43}/);
  });

  it('a user without a team: nothing is written; a second revoke writes nothing', async () => {
    const loner = await mintUserToken(h, fresh('loner'), {});
    const before = allAuditRows(h).length;
    const created = await h.call<CreateTokenResponse>('POST', '/v1/tokens', { token: loner, body: {} });
    await h.call('DELETE', `/v1/tokens/${created.body.token.id}`, { token: loner });
    expect(allAuditRows(h).length).toBe(before);

    const created2 = await h.call<CreateTokenResponse>('POST', '/v1/tokens', { body: {} });
    await h.call('DELETE', `/v1/tokens/${created2.body.token.id}`);
    const n = allAuditRows(h).length;
    expect((await h.call('DELETE', `/v1/tokens/${created2.body.token.id}`)).status).toBe(200);
    expect(allAuditRows(h).length).toBe(n);
  });

  it('a worker token: mint and revoke are audited in the team it is bound to', async () => {
    const minted = await h.call<CreateTokenResponse>('POST', '/v1/worker-tokens', { body: { queue: 'gpu' } });
    expect(minted.status, minted.text).toBe(201);
    expect((await h.call('DELETE', `/v1/tokens/${minted.body.token.id}`)).status).toBe(200);
    const mine = (await auditOf(h, TEAM)).filter((e) => e.target === minted.body.token.id);
    expect(mine.map((e) => [e.action, e.details.kind])).toEqual([
      ['token.revoke', 'worker'],
      ['token.create', 'worker'],
    ]);
    expect(JSON.stringify(mine)).not.toContain(minted.body.secret);
  });

  it('refused token requests write nothing', async () => {
    const before = allAuditRows(h).length;
    expectError(await h.call('POST', '/v1/tokens', { body: { scopes: ['root'] } }), 400, 'E_BAD_REQUEST');
    expectError(await h.call('DELETE', '/v1/tokens/no-such-id'), 404, 'E_NOT_FOUND');
    expect(allAuditRows(h).length).toBe(before);
  });
});

describe('download.sign', () => {
  it('one entry per request (viewer), none for a refused one; a job token is recorded as the job', async () => {
    const key = uniqueKey('dl');
    await createExperiment(h, key);
    const a = text('first blob\n');
    const b = bytes(3000);
    await publish(h, key, 'out', [
      { path: 'a.txt', data: a },
      { path: 'b.bin', data: b },
    ]);
    const viewer = await mintUserToken(h, fresh('vic'), { [TEAM]: 'viewer' });
    const seen = new Set(allAuditRows(h).map((e) => e.id));
    const ok = await h.call('POST', route.downloads(key, 'out', 1), {
      token: viewer,
      body: { sha256s: [sha256(a), sha256(b), sha256(a)] },
    });
    expect(ok.status, ok.text).toBe(200);
    const refused = await h.call('POST', route.downloads(key, 'out', 1), {
      token: viewer,
      body: { sha256s: [sha256('not in the version')] },
    });
    expectError(refused, 403, 'E_FORBIDDEN');
    const rows = allAuditRows(h).filter((e) => !seen.has(e.id));
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      team: TEAM,
      action: 'download.sign',
      target: `${key}/out@1`,
      details: { blobs: 2, bytes: a.length + b.length },
      actor: { kind: 'personal' },
    });

    const jobKey = uniqueKey('job');
    const editor = await mintUserToken(h, fresh('ed'), { [TEAM]: 'editor' });
    const jobToken = await leaseJobToken(h, jobKey, { token: editor });
    const data = text('written by the job\n');
    await publish2(jobKey, data, { token: jobToken });
    const jobDl = await h.call('POST', route.downloads(jobKey, 'model', 1), {
      token: jobToken,
      body: { sha256s: [sha256(data)] },
    });
    expect(jobDl.status, jobDl.text).toBe(200);
    const [entry] = (await auditOf(h, TEAM)).filter((e) => e.target === `${jobKey}/model@1`);
    expect(entry?.actor.kind).toBe('job');
    // A job token cannot read the log, administer teams or delete experiments.
    expectError(await h.call('GET', teamRoute.audit(), { token: jobToken }), 403, 'E_FORBIDDEN');
    expectError(await h.call('DELETE', teamRoute.experiment(jobKey, true), { token: jobToken }), 403, 'E_FORBIDDEN');
    expectError(await h.call('GET', teamRoute.teams(), { token: jobToken }), 403, 'E_FORBIDDEN');
  });
});

function bytes(n: number): Uint8Array {
  return new Uint8Array(randomBytes(n));
}

describe('GET /v1/audit', () => {
  let team: string;
  let as: CallOptions;
  const targets: string[] = [];
  beforeAll(async () => {
    const admin = fresh('pager');
    as = { token: await mintUserToken(h, admin, {}) };
    team = fresh('paged');
    await h.call('POST', teamRoute.teams(), { ...as, body: { id: team } });
    as.team = team;
    for (let i = 0; i < 7; i++) {
      const u = fresh('p');
      await mintUserToken(h, u, {});
      await h.call('PUT', teamRoute.member(team, u), { ...as, body: { role: 'viewer' } });
      targets.push(u);
    }
  });

  it('pages newest first with limit and before (an id), each entry once', async () => {
    const seen: string[] = [];
    let before: string | undefined;
    for (let pages = 0; pages < 10; pages++) {
      const q: Record<string, string | number> = { limit: 3 };
      if (before) q.before = before;
      const res = await h.call<ListAuditResponse>('GET', teamRoute.audit(q), as);
      expect(res.status, res.text).toBe(200);
      if (res.body.entries.length === 0) break;
      seen.push(...res.body.entries.map((e) => e.target));
      before = res.body.entries.at(-1)?.id;
    }
    expect(seen).toEqual([...targets].reverse().concat(team));
  });

  it('filters by action; before may be an ISO time', async () => {
    const adds = await h.call<ListAuditResponse>('GET', teamRoute.audit({ action: 'member.add' }), as);
    expect(adds.body.entries.map((e) => e.target)).toEqual([...targets].reverse());
    const creates = await h.call<ListAuditResponse>('GET', teamRoute.audit({ action: 'team.create' }), as);
    expect(creates.body.entries.map((e) => e.target)).toEqual([team]);
    const future = await h.call<ListAuditResponse>('GET', teamRoute.audit({ before: '2999-01-01T00:00:00Z' }), as);
    expect(future.body.entries).toHaveLength(8);
    const past = await h.call<ListAuditResponse>('GET', teamRoute.audit({ before: '2000-01-01' }), as);
    expect(past.body.entries).toEqual([]);
  });

  it('bad limit, action or before: 400 E_BAD_REQUEST and nothing stored', async () => {
    const cases: Record<string, string | number>[] = [
      { limit: 0 },
      { limit: -1 },
      { limit: 1001 },
      { limit: 'ten' },
      { limit: 1.5 },
      { action: 'member.delete' },
      { action: '' },
      { before: 'yesterday' },
      { before: '123' },
      { before: "0' OR 1=1" },
    ];
    for (const q of cases) {
      const before = teamState(h);
      const res = await h.call('GET', teamRoute.audit(q), as);
      expectError(res, 400, 'E_BAD_REQUEST' satisfies ErrorCode);
      expect(teamState(h)).toEqual(before);
    }
  });

  it("one team's admin never sees another team's entries", async () => {
    const res = await h.call<ListAuditResponse>('GET', teamRoute.audit({ limit: 1000 }), as);
    expect(res.body.entries.every((e) => e.team === team)).toBe(true);
    const local = await auditOf(h, TEAM);
    expect(local.some((e) => e.team !== TEAM)).toBe(false);
    expect(local.map((e) => e.target)).not.toContain(team);
  });
});
