/**
 * The security-hardening attacks of issue 11, one test per finding (each name cites the item number), run
 * unchanged against the local host (functions/test/api/attacks-11.test.ts) and the bundled Cloud Function on the
 * emulators (functions/test/gcp/attacks-11.test.ts). Each test failed on the code before its fix. Users are made
 * directly in the store (a client cannot create users); everything else goes through HTTP.
 */
import { randomBytes } from 'node:crypto';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Role } from '../../src/contract/model.ts';
import type { SignedRequest } from '../../src/contract/transfer.ts';
import type { AuditLog, JobStore, MetadataPorts } from '../../src/core/ports.ts';
import { mintToken } from '../../src/core/tokens.ts';
import { type Credential, callApi, expectErrorBody, manifestOf, type Res, sendSigned, sha256 } from './authz-matrix.ts';

export interface AttackHost extends MetadataPorts {
  url: string;
  team: string;
  jobs: JobStore;
  audit: AuditLog;
  /** An admin personal token of `team` (fixtures are made with it). */
  root: { token: string; userId: string };
}

const enc = encodeURIComponent;

export class AttackKit {
  readonly run = randomBytes(3).toString('hex');
  private n = 0;
  constructor(readonly h: AttackHost) {}

  id(prefix: string): string {
    this.n += 1;
    return `${prefix}-${this.run}-${this.n}`;
  }

  get root(): Credential {
    return { authorization: `Bearer ${this.h.root.token}`, team: this.h.team, userId: this.h.root.userId };
  }

  as(token: string, userId: string | null = null): Credential {
    return { authorization: `Bearer ${token}`, team: this.h.team, userId };
  }

  call(method: string, path: string, cred: Credential, body?: unknown): Promise<Res> {
    return callApi(this.h.url, method, path, cred, body);
  }

  async ok(method: string, path: string, body?: unknown, cred: Credential = this.root): Promise<Res> {
    const res = await this.call(method, path, cred, body);
    if (res.status < 200 || res.status > 299) throw new Error(`fixture ${method} ${path}: ${res.status} ${res.text}`);
    return res;
  }

  /** A user with `role` on the team and a personal token with `scopes`. */
  async person(prefix: string, role: Role | null, scopes = ['*']): Promise<{ id: string; cred: Credential }> {
    const id = this.id(prefix);
    await this.h.accounts.putUser({ id, name: id, createdAt: new Date().toISOString() });
    if (role) await this.h.accounts.setMembership(this.h.team, id, role);
    const { secret } = await mintToken(this.h, {
      userId: id,
      kind: 'personal',
      scopes,
      expiresAt: new Date(Date.now() + 3600_000),
      now: new Date(),
    });
    return { id, cred: this.as(secret, id) };
  }

  /** Registers `key` as queued and submits it to `queue` (as `cred`). */
  async queue(key: string, queue: string, cred: Credential = this.root): Promise<void> {
    await this.ok('POST', '/v1/experiments', { key, queued: true }, cred);
    await this.ok('POST', `/v1/experiments/${enc(key)}/job`, { queue, spec: { command: ['true'] } }, cred);
  }

  /** Leases the next job of `queue` as `cred`: the job token. */
  async lease(queue: string, cred: Credential = this.root): Promise<string> {
    const res = await this.ok('POST', `/v1/queues/${queue}/lease`, { worker: { id: 'w' }, waitSeconds: 0 }, cred);
    const token = res.body.lease?.token as string | undefined;
    if (!token) throw new Error(`no lease from ${queue}: ${res.text}`);
    return token;
  }

  heartbeat(key: string, jobToken: string): Promise<Res> {
    return this.call('POST', `/v1/jobs/${enc(key)}/heartbeat`, this.as(jobToken));
  }
}

interface Pack {
  id: string;
  nonce: string;
  members: { sha256: string; size: number }[];
  request: SignedRequest;
}

/** The registration body of a planned pack (what it was signed with). */
const registration = (p: Pack) => ({ id: p.id, nonce: p.nonce, members: p.members });

/**
 * Uploads what a plan asked for (the members of a pack concatenated in order) and registers its packs, as `cred`;
 * the registration answers.
 */
async function uploadPlanned(k: AttackKit, art: string, plan: Res, bySha: Map<string, Buffer>, cred: Credential) {
  // The local host answers a stored upload 201, GCS 200.
  for (const u of plan.body.uploads)
    expect([200, 201]).toContain((await sendSigned(u.request, bySha.get(u.sha256))).status);
  const answers: Res[] = [];
  for (const p of plan.body.packs as Pack[]) {
    const body = Buffer.concat(p.members.map((m) => bySha.get(m.sha256) as Buffer));
    expect([200, 201]).toContain((await sendSigned(p.request, body)).status);
    answers.push(await k.call('POST', `${art}/packs`, cred, registration(p)));
  }
  return answers;
}

/** Plans, uploads (small files: packs, registered) and commits one small file as key/tag@1 (as root). */
async function publishOne(k: AttackKit, key: string, tag: string, content: string): Promise<string> {
  const data = Buffer.from(content);
  const sha = sha256(data);
  const art = `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}`;
  const plan = await k.ok('POST', `${art}/uploads`, { blobs: [{ sha256: sha, size: data.length }] });
  for (const reg of await uploadPlanned(k, art, plan, new Map([[sha, data]]), k.root)) expect(reg.status).toBe(200);
  await k.ok('POST', `${art}/versions`, { mutable: true, manifest: manifestOf([{ path: 'f.txt', data }]) });
  return sha;
}

/** Registers the attack suite. `host` is called in beforeAll (after the test file made its host). */
export function describeAttacks(hostName: string, host: () => AttackHost): void {
  describe(`issue 11 attacks (${hostName})`, () => {
    let k: AttackKit;
    beforeAll(() => {
      k = new AttackKit(host());
    });

    it('11.1 worker token of a removed admin is refused, and re-adding the admin does not revive it', async () => {
      const ada = await k.person('ada', 'admin');
      const queue = k.id('q');
      const w = await k.ok('POST', '/v1/worker-tokens', { queue, expiresInSeconds: 3600 }, ada.cred);
      const worker = k.as(w.body.secret as string);
      const lease = () => k.call('POST', `/v1/queues/${queue}/lease`, worker, { worker: { id: 'x' }, waitSeconds: 0 });
      expect((await lease()).status).toBe(200);
      await k.ok('DELETE', `/v1/teams/${enc(k.h.team)}/members/${enc(ada.id)}`);
      await k.queue(k.id('after-removal'), queue);
      expectErrorBody(await lease(), 401, 'E_UNAUTHENTICATED');
      expect((await k.h.jobs.listJobs(k.h.team, { queue }))[0]?.status).toBe('queued');
      await k.ok('PUT', `/v1/teams/${enc(k.h.team)}/members/${enc(ada.id)}`, { role: 'admin' });
      expectErrorBody(await lease(), 401, 'E_UNAUTHENTICATED');
      const audit = await k.h.audit.list(k.h.team, { limit: 20, action: 'token.revoke' });
      expect(audit.map((e) => e.target)).toContain(w.body.token.id);
    });

    it('11.1 worker token of an admin demoted to editor is refused', async () => {
      const ada = await k.person('demoted', 'admin');
      const queue = k.id('q');
      const w = await k.ok('POST', '/v1/worker-tokens', { queue, expiresInSeconds: 3600 }, ada.cred);
      await k.ok('PUT', `/v1/teams/${enc(k.h.team)}/members/${enc(ada.id)}`, { role: 'editor' });
      const res = await k.call('POST', `/v1/queues/${queue}/lease`, k.as(w.body.secret), { worker: { id: 'x' } });
      expectErrorBody(res, 401, 'E_UNAUTHENTICATED');
    });

    it('11.1 job token of a removed editor is refused', async () => {
      const ed = await k.person('eddie', 'editor');
      const key = k.id('job');
      const queue = k.id('q');
      await k.queue(key, queue, ed.cred);
      const jobToken = await k.lease(queue);
      expect((await k.heartbeat(key, jobToken)).status).toBe(200);
      await k.ok('DELETE', `/v1/teams/${enc(k.h.team)}/members/${enc(ed.id)}`);
      expectErrorBody(await k.heartbeat(key, jobToken), 409, 'E_LEASE_LOST');
    });

    it("11.1 another admin lists and revokes a team's worker token (audited); a non-admin gets 403/404", async () => {
      const ada = await k.person('minter', 'admin');
      const ed = await k.person('ed', 'editor');
      const w = await k.ok('POST', '/v1/worker-tokens', { queue: k.id('q'), expiresInSeconds: 3600 }, ada.cred);
      const id = w.body.token.id as string;
      const listed = await k.ok('GET', `/v1/tokens?team=${enc(k.h.team)}`);
      expect(listed.body.tokens.map((t: { id: string }) => t.id)).toContain(id);
      expect(listed.text).not.toMatch(/slt_|"hash"/);
      expectErrorBody(await k.call('GET', `/v1/tokens?team=${enc(k.h.team)}`, ed.cred), 403, 'E_FORBIDDEN');
      expectErrorBody(await k.call('DELETE', `/v1/tokens/${enc(id)}`, ed.cred), 404, 'E_NOT_FOUND');
      expect((await k.h.tokens.getToken(id))?.revokedAt).toBeNull();
      const revoked = await k.ok('DELETE', `/v1/tokens/${enc(id)}`);
      expect(revoked.body.token.revokedAt).toEqual(expect.any(String));
      const audit = await k.h.audit.list(k.h.team, { limit: 5, action: 'token.revoke' });
      expect(audit[0]).toMatchObject({ target: id, actor: { userId: k.h.root.userId } });
    });

    it('11.2 a job token is dead once its job ends and cannot act on the job queued again under the same key', async () => {
      const key = k.id('again');
      const queue = k.id('q');
      await k.queue(key, queue);
      const old = await k.lease(queue);
      expect((await k.heartbeat(key, old)).status).toBe(200);
      await k.ok('DELETE', `/v1/experiments/${enc(key)}?force=true`);
      await k.queue(key, queue);
      const fresh = await k.lease(queue);
      expectErrorBody(await k.heartbeat(key, old), 409, 'E_LEASE_LOST');
      const done = await k.call('POST', `/v1/jobs/${enc(key)}/complete`, k.as(old), {
        status: 'finished',
        exitCode: 0,
      });
      expectErrorBody(done, 409, 'E_LEASE_LOST');
      expect((await k.heartbeat(key, fresh)).status).toBe(200);
      // Completing ends the lease and revokes the token at once.
      await k.ok('POST', `/v1/jobs/${enc(key)}/complete`, { status: 'finished', exitCode: 0 }, k.as(fresh));
      expectErrorBody(await k.heartbeat(key, fresh), 409, 'E_LEASE_LOST');
    });

    it('11.4 a chunked body over the cap is refused with 413 E_TOO_LARGE and stores nothing', async () => {
      const key = k.id('chunked');
      const chunk = new TextEncoder().encode(`${' '.repeat(1 << 20)}`);
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(c) {
          if (sent === 0) c.enqueue(new TextEncoder().encode(`{"key":"${key}","command":["`));
          sent += 1;
          if (sent <= 40) return c.enqueue(chunk);
          // Valid JSON: only its size can refuse it (the Cloud Function's framework parses JSON before our handler).
          c.enqueue(new TextEncoder().encode('"]}'));
          c.close();
        },
      });
      const res = await fetch(`${k.h.url}/v1/experiments`, {
        method: 'POST',
        headers: { authorization: `Bearer ${k.h.root.token}`, 'content-type': 'application/json' },
        body,
        duplex: 'half',
      } as RequestInit);
      const text = await res.text();
      expect(res.status, text).toBe(413);
      expect(JSON.parse(text).error.code).toBe('E_TOO_LARGE');
      expect(await k.h.experiments.getExperiment(k.h.team, key)).toBeNull();
    });

    it('11.11 oversized record fields are refused with E_TOO_LARGE naming the field; nothing is stored', async () => {
      const key = k.id('fields');
      const big = await k.call('POST', '/v1/experiments', k.root, {
        key,
        command: ['x'.repeat(60_000), ...Array(5).fill('y'.repeat(60_000))],
      });
      expectErrorBody(big, 413, 'E_TOO_LARGE');
      expect(big.body.error.message).toMatch(/^command/);
      expect(await k.h.experiments.getExperiment(k.h.team, key)).toBeNull();
      await k.ok('POST', '/v1/experiments', { key });
      const warnings = Array(300).fill('w'.repeat(4000));
      const fin = await k.call('POST', `/v1/experiments/${enc(key)}/finish`, k.root, {
        status: 'finished',
        exitCode: 0,
        warnings,
      });
      expectErrorBody(fin, 413, 'E_TOO_LARGE');
      expect(fin.body.error.message).toMatch(/^warnings/);
      expect((await k.h.experiments.getExperiment(k.h.team, key))?.status).toBe('running');
    });

    it('11.11 a blob over the maximum size gets no upload plan and cannot be committed', async () => {
      const key = k.id('huge');
      await k.ok('POST', '/v1/experiments', { key });
      const sha = 'a'.repeat(64);
      const plan = await k.call('POST', `/v1/experiments/${enc(key)}/artifacts/out/uploads`, k.root, {
        blobs: [{ sha256: sha, size: 2 ** 40 }],
      });
      expectErrorBody(plan, 413, 'E_TOO_LARGE');
      const manifest = { files: [{ path: 'big.bin', size: 2 ** 40, sha256: sha, mode: 0o644, mtime: 1 }] };
      const commit = await k.call('POST', `/v1/experiments/${enc(key)}/artifacts/out/versions`, k.root, {
        mutable: true,
        manifest,
      });
      expectErrorBody(commit, 413, 'E_TOO_LARGE');
      expect(commit.body.error.message).toContain('big.bin');
      expect(await k.h.experiments.listArtifacts(k.h.team, key)).toEqual([]);
    });

    it('11.11 --resume does not grow the lineage with reuses it already lists', async () => {
      const src = k.id('src');
      await k.ok('POST', '/v1/experiments', { key: src });
      await publishOne(k, src, 'data', 'lineage source');
      const key = k.id('resumed');
      const reuse = [{ experiment: src, tag: 'data', as: 'in' }];
      await k.ok('POST', '/v1/experiments', { key, reuse });
      for (let i = 0; i < 3; i++) {
        // Only an experiment that ended (or was lost) can be resumed.
        await k.ok('POST', `/v1/experiments/${enc(key)}/finish`, { status: 'failed', exitCode: 1 });
        await k.ok('POST', '/v1/experiments', { key, reuse, resume: true });
      }
      expect((await k.h.experiments.getExperiment(k.h.team, key))?.lineage).toHaveLength(1);
    });

    it("11.5 a job token cannot reach a team blob by naming its hash, and plans and errors don't reveal it", async () => {
      const secretKey = k.id('secret');
      await k.ok('POST', '/v1/experiments', { key: secretKey });
      const content = `weights only admins may read ${k.run}`;
      const secretSha = await publishOne(k, secretKey, 'model', content);
      const size = Buffer.byteLength(content);
      const key = k.id('thief');
      const queue = k.id('q');
      await k.queue(key, queue);
      const job = k.as(await k.lease(queue));
      const art = `/v1/experiments/${enc(key)}/artifacts/out`;
      const unknownSha = sha256(`never stored ${k.run}`);
      const plan = await k.call('POST', `${art}/uploads`, job, {
        blobs: [
          { sha256: secretSha, size },
          { sha256: unknownSha, size },
        ],
      });
      expect(plan.status, plan.text).toBe(200);
      expect(plan.body.present).toBe(0);
      const planned = [...plan.body.uploads, ...plan.body.packs.flatMap((x: { members: unknown[] }) => x.members)];
      expect(planned.map((b: { sha256: string }) => b.sha256).sort()).toEqual([secretSha, unknownSha].sort());
      const steal = (sz: number) =>
        k.call('POST', `${art}/versions`, job, {
          mutable: true,
          manifest: { files: [{ path: 'loot.bin', size: sz, sha256: secretSha, mode: 0o644, mtime: 1 }] },
        });
      for (const sz of [size, size + 1]) {
        const res = await steal(sz);
        expectErrorBody(res, 409, 'E_BLOB_MISSING');
        expect(res.body.error.message).not.toMatch(/size/);
      }
      expect(await k.h.experiments.listArtifacts(k.h.team, key)).toEqual([]);

      // Nor by registering a pack it did not upload: its own planned pack of the hash, never uploaded (no claim
      // comes of it), or the team's pack that holds the blob under any nonce but the planner's.
      const secretPack = plan.body.packs.find((p: Pack) => p.members.some((m) => m.sha256 === secretSha)) as Pack;
      expectErrorBody(await k.call('POST', `${art}/packs`, job, registration(secretPack)), 409, 'E_BLOB_MISSING');
      const teamPack = (await k.h.blobIndex.findBlobs(k.h.team, [secretSha])).get(secretSha)?.pack;
      expect(teamPack).toBeDefined();
      const guessed = {
        id: teamPack?.id,
        nonce: randomBytes(16).toString('hex'),
        members: [{ sha256: secretSha, size }],
      };
      expectErrorBody(await k.call('POST', `${art}/packs`, job, guessed), 400, 'E_BAD_REQUEST');
      for (const sz of [size, size + 1]) expectErrorBody(await steal(sz), 409, 'E_BLOB_MISSING');
      expect(await k.h.experiments.listArtifacts(k.h.team, key)).toEqual([]);
      // Still its place in the team's pack: nothing the job did moved or re-recorded it.
      expect((await k.h.blobIndex.findBlobs(k.h.team, [secretSha])).get(secretSha)?.pack).toEqual(teamPack);

      // A job that really holds the bytes uploads them itself (its own pack, registered) and may then commit them.
      // Its registration answers the same whether the team had a member already or not.
      const data = Buffer.from(content);
      const fresh = Buffer.from(`a blob nobody had ${k.run}`);
      const twin = Buffer.from(`another blob nobody had ${k.run}`);
      const third = Buffer.from(`a third blob nobody had ${k.run}`);
      const bySha = new Map([data, fresh, twin, third].map((d) => [sha256(d), d]));
      const known = [data, fresh].map((d) => ({ sha256: sha256(d), size: d.length }));
      const unknown = [twin, third].map((d) => ({ sha256: sha256(d), size: d.length }));
      const mine = await k.ok('POST', `${art}/uploads`, { blobs: known }, job);
      const control = await k.ok('POST', `${art}/uploads`, { blobs: unknown }, job);
      expect([mine.body.present, control.body.present]).toEqual([0, 0]);
      const [withSecret] = await uploadPlanned(k, art, mine, bySha, job);
      const [withoutSecret] = await uploadPlanned(k, art, control, bySha, job);
      for (const [reg, planned] of [
        [withSecret, mine],
        [withoutSecret, control],
      ] as const) {
        expect(reg?.status, reg?.text).toBe(200);
        expect(reg?.body).toEqual({ id: planned.body.packs[0].id, members: 2 });
      }
      expect(withSecret?.text).not.toContain(secretSha);
      // The team's copy keeps its place; the job's own proof is what lets it commit the hash.
      expect((await k.h.blobIndex.findBlobs(k.h.team, [secretSha])).get(secretSha)?.pack).toEqual(teamPack);
      const own = await steal(size);
      expect(own.status, own.text).toBe(201);
    });

    it('11.8 team names that differ only in case are one team, stored under its lower-case name', async () => {
      const name = `Case-${k.run}`;
      const made = await k.call('POST', '/v1/teams', k.root, { id: name });
      expect(made.status, made.text).toBe(201);
      expect(made.body.team.id).toBe(name.toLowerCase());
      expectErrorBody(await k.call('POST', '/v1/teams', k.root, { id: name.toUpperCase() }), 409, 'E_CONFLICT');
      const asUpper = { ...k.root, team: name.toUpperCase() };
      const key = k.id('cased');
      await k.ok('POST', '/v1/experiments', { key }, asUpper);
      expect(await k.h.experiments.getExperiment(name.toLowerCase(), key)).not.toBeNull();
      const members = await k.ok('GET', `/v1/teams/${enc(name.toUpperCase())}/members`);
      expect(members.body.members.map((m: { userId: string }) => m.userId)).toEqual([k.h.root.userId]);
    });

    it('11.9 a read-scoped token cannot revoke tokens or remove memberships, even its own', async () => {
      const rhoda = await k.person('rhoda', 'admin', ['read']);
      const mine = await mintToken(k.h, {
        userId: rhoda.id,
        kind: 'personal',
        scopes: ['*'],
        expiresAt: null,
        now: new Date(),
      });
      expectErrorBody(await k.call('DELETE', `/v1/tokens/${enc(mine.record.id)}`, rhoda.cred), 403, 'E_FORBIDDEN');
      expect((await k.h.tokens.getToken(mine.record.id))?.revokedAt).toBeNull();
      const self = `/v1/teams/${enc(k.h.team)}/members/${enc(rhoda.id)}`;
      expectErrorBody(await k.call('DELETE', self, rhoda.cred), 403, 'E_FORBIDDEN');
      expect((await k.h.accounts.getMemberships(rhoda.id))[k.h.team]).toBe('admin');
    });
  });
}
