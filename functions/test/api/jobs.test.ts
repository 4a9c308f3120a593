/**
 * Queued runs through the HTTP API on the local backend: submit, lease (long poll), job tokens (what they may write
 * and read), heartbeat, complete, stop/kill, lease expiry and requeue, attempts, --lifetime, --max-duration,
 * resources, bad input and authorization on every job route, and many workers polling one queue.
 * Time is moved with a clock offset on the backend's `now` (the API and the job core read it on every call); the
 * internal tasks (checkLease, jobDeadline) are called directly, as the task queue would deliver them.
 */
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { homePaths } from '../../src/adapters/local/local-home.ts';
import { type ErrorCode, StudioError } from '../../src/contract/errors.ts';
import type { JobRecord, LeaseResult } from '../../src/contract/job-model.ts';
import type { CreateExperimentBody, SubmitJobBody } from '../../src/contract/schemas.ts';
import type {
  DownloadResponse,
  GetVersionResponse,
  PlannedPack,
  PlanUploadResponse,
  ShowExperimentResponse,
} from '../../src/contract/wire.ts';
import { checkLease, jobDeadline } from '../../src/core/jobs.ts';
import { packIdOf } from '../../src/core/packs.ts';
import {
  type ApiResult,
  type CallOptions,
  commit,
  createExperiment,
  downloadRequest,
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

type HeartbeatBody = { leaseExpiresAt: string; stop: 'stop' | 'kill' | null; stopReason: string | null };

const OTHER_TEAM = 'other-team';
let h: Harness;
/** Seconds added to the backend's clock. */
let offset = 0;
const tok = { editor: '', viewer: '', other: '', expired: '' };

beforeAll(async () => {
  h = await startHarness();
  h.server.backend.deps.now = () => new Date(Date.now() + offset * 1000);
  tok.editor = await mintUserToken(h, 'eddie', { [TEAM]: 'editor' });
  tok.viewer = await mintUserToken(h, 'vera', { [TEAM]: 'viewer' });
  tok.other = await mintUserToken(h, 'mallory', { [OTHER_TEAM]: 'admin' });
  tok.expired = await mintUserToken(h, 'old', { [TEAM]: 'admin' }, { expiresAt: new Date(Date.now() - 60_000) });
});
afterAll(async () => {
  await h?.close();
});
afterEach(() => {
  offset = 0;
  expect(h.logged).toEqual([]);
});

const deps = () => h.server.backend.deps;
const enc = encodeURIComponent;
const jobRoute = {
  submit: (key: string) => `/v1/experiments/${enc(key)}/job`,
  get: (key: string) => `/v1/experiments/${enc(key)}/job`,
  stop: (key: string) => `/v1/experiments/${enc(key)}/stop`,
  lease: (queue: string) => `/v1/queues/${enc(queue)}/lease`,
  heartbeat: (id: string) => `/v1/jobs/${enc(id)}/heartbeat`,
  complete: (id: string) => `/v1/jobs/${enc(id)}/complete`,
  list: (query = '') => `/v1/jobs${query}`,
};

let queues = 0;
/** A queue of its own per test, so leases never pick up another test's jobs. */
const freshQueue = () => `q-${process.pid}-${++queues}`;

const SPEC = { command: ['python', 'train.py'], captures: [{ tag: 'out', path: 'out' }] };

async function queuedExperiment(key: string, extra: Partial<CreateExperimentBody> = {}): Promise<void> {
  await createExperiment(h, key, { queued: true, ...extra });
}

async function submit(key: string, body: Partial<SubmitJobBody> & { queue: string }, opts: CallOptions = {}) {
  return h.call<{ job: JobRecord }>('POST', jobRoute.submit(key), { ...opts, body: { spec: SPEC, ...body } });
}

/** Registers a queued experiment and submits its job; asserts both worked. */
async function queueJob(queue: string, body: Partial<SubmitJobBody> = {}, key = uniqueKey('job')): Promise<JobRecord> {
  await queuedExperiment(key);
  const res = await submit(key, { queue, ...body });
  expect(res.status, res.text).toBe(201);
  return res.body.job;
}

function lease(
  queue: string,
  worker: { id?: string; host?: string; resources?: Record<string, number> } = {},
  opts: CallOptions & { waitSeconds?: number } = {},
) {
  const { waitSeconds = 0, ...call } = opts;
  return h.call<{ lease: LeaseResult | null }>('POST', jobRoute.lease(queue), {
    token: tok.editor,
    ...call,
    body: {
      worker: { id: worker.id ?? 'w1', host: worker.host ?? 'box-1', resources: worker.resources ?? {} },
      waitSeconds,
    },
  });
}

/** Leases and asserts a job came back. */
async function leaseOne(queue: string, worker: Parameters<typeof lease>[1] = {}): Promise<LeaseResult> {
  const res = await lease(queue, worker);
  expect(res.status, res.text).toBe(200);
  expect(res.body.lease, res.text).not.toBeNull();
  return res.body.lease as LeaseResult;
}

const heartbeat = (id: string, token: string) => h.call<HeartbeatBody>('POST', jobRoute.heartbeat(id), { token });

const complete = (id: string, token: string, body: Record<string, unknown> = {}) =>
  h.call<{ job: JobRecord }>('POST', jobRoute.complete(id), {
    token,
    body: { status: 'finished', exitCode: 0, ...body },
  });

const stop = (key: string, mode: 'stop' | 'kill' = 'stop', opts: CallOptions = {}) =>
  h.call<{ job: JobRecord }>('POST', jobRoute.stop(key), { token: tok.editor, ...opts, body: { mode } });

const storedJob = (id: string) => deps().jobs?.getJob(TEAM, id) as Promise<JobRecord | null>;
const storedExperiment = (key: string) => h.experiments.getExperiment(TEAM, key);

/** Every row of the jobs table and of the experiments table, read through a separate read-only connection. */
function jobRows(): { jobs: unknown[]; experiments: unknown[]; versions: unknown[] } {
  const db = new Database(homePaths(h.home).db, { readonly: true, fileMustExist: true });
  try {
    return {
      jobs: db.prepare('SELECT * FROM jobs ORDER BY team, id').all(),
      experiments: db.prepare('SELECT * FROM experiments ORDER BY team, key').all(),
      versions: db.prepare('SELECT * FROM versions ORDER BY team, experiment, tag, version').all(),
    };
  } finally {
    db.close();
  }
}

describe('the life of a job', () => {
  it('submit, lease, job token writes its own artifacts and reads only its reuses, heartbeat, complete', async () => {
    // A finished run whose artifact (two versions) the queued run reuses at version 1.
    const src = uniqueKey('src');
    await createExperiment(h, src);
    const v1 = text('dataset v1\n');
    await publish(h, src, 'data', [{ path: 'd.txt', data: v1 }]);
    await publish(h, src, 'data', [{ path: 'd.txt', data: text('dataset v2\n') }]);
    const unrelated = uniqueKey('unrelated');
    await createExperiment(h, unrelated);
    await publish(h, unrelated, 'secret', [{ path: 's.txt', data: text('not yours\n') }]);

    const key = uniqueKey('life');
    const queue = freshQueue();
    await queuedExperiment(key, { reuse: [{ experiment: src, tag: 'data', version: 1, as: 'data' }] });
    const sub = await submit(
      key,
      { queue, spec: { ...SPEC, inputs: [{ tag: 'workspace', path: null }], resources: { cpus: 2 } } },
      { token: tok.editor },
    );
    expect(sub.status, sub.text).toBe(201);
    expect(sub.body.job).toMatchObject({
      id: key,
      queue,
      owner: 'eddie',
      status: 'queued',
      attempt: 0,
      maxAttempts: 3,
      worker: null,
      spec: {
        command: SPEC.command,
        captures: SPEC.captures,
        inputs: [{ tag: 'workspace', path: null }],
        reuse: [{ as: 'data', experiment: src, tag: 'data', version: 1 }],
        captureInterval: 60,
        resources: { cpus: 2 },
      },
    });
    const got = await h.call<{ job: JobRecord }>('GET', jobRoute.get(key), { token: tok.viewer });
    expect(got.body.job).toEqual(sub.body.job);
    // One job per experiment.
    expectError(await submit(key, { queue }), 409, 'E_CONFLICT');

    const l = await leaseOne(queue, { id: 'w-life', host: 'gpu-box', resources: { cpus: 4 } });
    expect(l.job).toMatchObject({ id: key, status: 'leased', attempt: 1, worker: { id: 'w-life', host: 'gpu-box' } });
    expect(l.token).toMatch(/^slt_/);
    expect(l.leaseSeconds).toBe(60);
    expect(l.heartbeatSeconds).toBeGreaterThan(0);
    expect(l.heartbeatSeconds).toBeLessThan(l.leaseSeconds);
    expect((await storedExperiment(key))?.status).toBe('running');
    // Nothing else is queued there.
    expect((await lease(queue)).body.lease).toBeNull();

    const job = { token: l.token };
    // A pack the job plans is its alone to register: the team's own token, nonce in hand, is refused (the id binds
    // the job token), and nothing is recorded.
    const probe = text('probe of the job pack\n');
    const probePlan = await h.call<PlanUploadResponse>('POST', route.uploads(key, 'out'), {
      ...job,
      body: { blobs: [{ sha256: sha256(probe), size: probe.length }] },
    });
    const probePack = probePlan.body.packs[0] as PlannedPack;
    expect((await send(probePack.request, probe)).status).toBe(201);
    expectError(await registerPack(h, key, 'out', probePack), 400, 'E_BAD_REQUEST');
    expect((await h.blobIndex.findBlobs(TEAM, [sha256(probe)])).size).toBe(0);
    expect((await registerPack(h, key, 'out', probePack, job)).status).toBe(200);
    // Its own experiment: plan, upload and commit.
    const out = text('model weights\n');
    await uploadBlobs(h, key, 'out', [out], job);
    const c = await commit(h, key, 'out', manifestOf([{ path: 'model.bin', data: out }]), true, {}, job);
    expect(c.status, c.text).toBe(201);
    expect(c.body.version.createdBy).toBe('eddie');
    // An empty file: a job token's plan still signs it (its uploads are staged per token), and the commit takes it.
    const empty = new Uint8Array(0);
    const emptyPlan = await uploadBlobs(h, key, 'out', [empty], job);
    expect(emptyPlan.uploads.length + emptyPlan.packs.length).toBe(1);
    const c2 = await commit(
      h,
      key,
      'out',
      manifestOf([
        { path: 'model.bin', data: out },
        { path: 'empty', data: empty },
      ]),
      true,
      {},
      job,
    );
    expect(c2.status, c2.text).toBe(201);
    const show = await h.call<ShowExperimentResponse>('GET', route.experiment(key), job);
    expect(show.status, show.text).toBe(200);
    // Its reuse, at the bound version only.
    const r1 = await h.call<GetVersionResponse>('GET', route.version(src, 'data', 1), job);
    expect(r1.status, r1.text).toBe(200);
    const dl = await h.call<DownloadResponse>('POST', route.downloads(src, 'data', 1), {
      ...job,
      body: { sha256s: [sha256(v1)] },
    });
    expect(dl.status, dl.text).toBe(200);
    expect(Buffer.from(await (await send(downloadRequest(dl.body, sha256(v1)))).arrayBuffer())).toEqual(
      Buffer.from(v1),
    );
    expectError(await h.call('GET', route.version(src, 'data', 2), job), 403, 'E_FORBIDDEN');
    expectError(await h.call('GET', route.version(src, 'data', 'latest'), job), 403, 'E_FORBIDDEN');
    expectError(await h.call('GET', route.version(unrelated, 'secret', 1), job), 403, 'E_FORBIDDEN');
    expectError(await h.call('GET', route.experiment(unrelated), job), 403, 'E_FORBIDDEN');
    // Nothing of another experiment may change.
    const before = jobRows();
    const other = text('sneaky\n');
    expectError(
      await h.call('POST', route.uploads(unrelated, 'secret'), {
        ...job,
        body: { blobs: [{ sha256: sha256(other), size: 7 }] },
      }),
      403,
      'E_FORBIDDEN',
    );
    expectError(await commit(h, src, 'data', manifestOf([{ path: 'x', data: v1 }]), true, {}, job), 403, 'E_FORBIDDEN');
    expectError(
      await h.call('POST', route.finish(unrelated), { ...job, body: { status: 'failed', exitCode: 1 } }),
      403,
      'E_FORBIDDEN',
    );
    expectError(
      await h.call('POST', route.experiments(), { ...job, body: { key: uniqueKey('x') } }),
      403,
      'E_FORBIDDEN',
    );
    expectError(await h.call('GET', route.experiments(), job), 403, 'E_FORBIDDEN');
    expectError(await h.call('POST', jobRoute.stop(unrelated), { ...job, body: {} }), 403, 'E_FORBIDDEN');
    expectError(await lease(queue, {}, job), 403, 'E_FORBIDDEN');
    expectError(await h.call('POST', '/v1/tokens', { ...job, body: {} }), 403, 'E_FORBIDDEN');
    expect(jobRows()).toEqual(before);

    // Heartbeat extends the lease: 50 s later the lease is renewed to 60 s from then, so at +100 s (past the first
    // deadline) the token still works.
    offset = 50;
    const hb = await heartbeat(key, l.token);
    expect(hb.status, hb.text).toBe(200);
    expect(hb.body.stop).toBeNull();
    expect(Date.parse(hb.body.leaseExpiresAt)).toBeGreaterThan(Date.parse(l.job.leaseExpiresAt as string) + 45_000);
    offset = 100;
    expect((await heartbeat(key, l.token)).status).toBe(200);

    const done = await complete(key, l.token, {
      exitCode: 0,
      artifacts: { out: c.body.version.version },
      stats: { downloadedBytes: 11 },
      warnings: ['out: x.tmp: unreadable'],
    });
    expect(done.status, done.text).toBe(200);
    expect(done.body.job).toMatchObject({
      status: 'finished',
      exitCode: 0,
      signal: null,
      leaseExpiresAt: null,
      result: { attempt: 1, artifacts: { out: 1 } },
      stats: { downloadedBytes: 11 },
      history: [{ attempt: 1, worker: 'w-life', outcome: 'finished' }],
    });
    expect(done.body.job.finishedAt).toBeTruthy();
    const exp = await storedExperiment(key);
    expect(exp).toMatchObject({ status: 'finished', exitCode: 0, signal: null, warnings: ['out: x.tmp: unreadable'] });
    expect(exp?.finishedAt).toBeTruthy();
    expect(exp?.startedAt).toBeTruthy();

    // Once: a second complete, and anything else from that token, is a lost lease.
    expectError(await complete(key, l.token), 409, 'E_LEASE_LOST');
    expectError(await heartbeat(key, l.token), 409, 'E_LEASE_LOST');
    expectError(
      await commit(h, key, 'out', manifestOf([{ path: 'late', data: out }]), true, {}, job),
      409,
      'E_LEASE_LOST',
    );
    expect((await storedJob(key))?.status).toBe('finished');
    // Ended jobs cannot be stopped.
    expectError(await stop(key), 409, 'E_CONFLICT');
  });

  it('complete refuses artifact versions the experiment does not have; stays leased', async () => {
    const queue = freshQueue();
    const j = await queueJob(queue);
    const l = await leaseOne(queue);
    expectError(await complete(j.id, l.token, { artifacts: { out: 1 } }), 404, 'E_NOT_FOUND');
    expect((await storedJob(j.id))?.status).toBe('leased');
    expect((await complete(j.id, l.token, { status: 'failed', exitCode: 3 })).body.job.status).toBe('failed');
    expect((await storedExperiment(j.id))?.status).toBe('failed');
    expect((await storedExperiment(j.id))?.exitCode).toBe(3);
  });

  it('GET /v1/jobs lists newest first, by queue and status', async () => {
    const queue = freshQueue();
    const a = await queueJob(queue);
    offset = 1;
    const b = await queueJob(queue);
    offset = 2;
    const c = await queueJob(queue);
    await leaseOne(queue); // a, the oldest
    const list = (q: string) => h.call<{ jobs: JobRecord[] }>('GET', jobRoute.list(q), { token: tok.viewer });
    expect((await list(`?queue=${queue}`)).body.jobs.map((j) => j.id)).toEqual([c.id, b.id, a.id]);
    expect((await list(`?queue=${queue}&status=queued`)).body.jobs.map((j) => j.id)).toEqual([c.id, b.id]);
    expect((await list(`?queue=${queue}&status=leased,finished`)).body.jobs.map((j) => j.id)).toEqual([a.id]);
    expect((await list(`?queue=${queue}&limit=1`)).body.jobs.map((j) => j.id)).toEqual([c.id]);
  });
});

describe('lease expiry (the lease-check task)', () => {
  it('a silent worker loses the job: requeued, attempt 2 leased elsewhere, attempt 1 refused everywhere', async () => {
    const queue = freshQueue();
    const j = await queueJob(queue);
    const first = await leaseOne(queue, { id: 'w-silent' });
    // Before the deadline the check only reschedules itself.
    expect(await checkLease(deps(), { team: TEAM, id: j.id, attempt: 1 })).toBe('renewed');
    offset = 61;
    // Past the deadline the old token is already refused, before any task ran.
    expectError(await heartbeat(j.id, first.token), 409, 'E_LEASE_LOST');
    expect(await checkLease(deps(), { team: TEAM, id: j.id, attempt: 1 })).toBe('requeued');
    expect(await checkLease(deps(), { team: TEAM, id: j.id, attempt: 1 })).toBe('stale'); // idempotent
    expect(await storedJob(j.id)).toMatchObject({ status: 'queued', attempt: 1, worker: null, leaseExpiresAt: null });
    expect((await storedExperiment(j.id))?.status).toBe('queued');

    const second = await leaseOne(queue, { id: 'w-new' });
    expect(second.job).toMatchObject({ id: j.id, attempt: 2, worker: { id: 'w-new' } });
    expect(second.token).not.toBe(first.token);
    expect((await storedExperiment(j.id))?.status).toBe('running');

    // Attempt 1 can change nothing any more.
    const data = text('from the superseded attempt\n');
    const before = jobRows();
    expectError(await heartbeat(j.id, first.token), 409, 'E_LEASE_LOST');
    expectError(await complete(j.id, first.token), 409, 'E_LEASE_LOST');
    expectError(
      await commit(h, j.id, 'out', manifestOf([{ path: 'a', data }]), true, {}, { token: first.token }),
      409,
      'E_LEASE_LOST',
    );
    expectError(
      await h.call('POST', route.uploads(j.id, 'out'), {
        token: first.token,
        body: { blobs: [{ sha256: sha256(data), size: data.length }] },
      }),
      409,
      'E_LEASE_LOST',
    );
    const stalePack = {
      id: packIdOf('ab'.repeat(16), [{ sha256: sha256(data), size: data.length }]),
      nonce: 'ab'.repeat(16),
    };
    expectError(
      await registerPack(
        h,
        j.id,
        'out',
        { ...stalePack, members: [{ sha256: sha256(data), size: data.length }] },
        { token: first.token },
      ),
      409,
      'E_LEASE_LOST',
    );
    expectError(await h.call('GET', jobRoute.get(j.id), { token: first.token }), 409, 'E_LEASE_LOST');
    expect(jobRows()).toEqual(before);
    // A stale task for attempt 1 changes nothing either.
    expect(await checkLease(deps(), { team: TEAM, id: j.id, attempt: 1 })).toBe('stale');

    // Attempt 2 works and finishes the job.
    expect((await heartbeat(j.id, second.token)).status).toBe(200);
    const done = await complete(j.id, second.token);
    expect(done.status, done.text).toBe(200);
    expect(done.body.job.history.map((x) => [x.attempt, x.worker, x.outcome])).toEqual([
      [1, 'w-silent', 'lease expired'],
      [2, 'w-new', 'finished'],
    ]);
    expect(done.body.job.result?.attempt).toBe(2);
  });

  it('maxAttempts exhausted -> lost (job and experiment), nothing left to lease', async () => {
    const queue = freshQueue();
    const j = await queueJob(queue, { maxAttempts: 2 });
    const a1 = await leaseOne(queue);
    offset = 61;
    expect(await checkLease(deps(), { team: TEAM, id: j.id, attempt: 1 })).toBe('requeued');
    const a2 = await leaseOne(queue);
    expect(a2.job.attempt).toBe(2);
    offset = 130;
    expect(await checkLease(deps(), { team: TEAM, id: j.id, attempt: 2 })).toBe('lost');
    const lost = await storedJob(j.id);
    expect(lost).toMatchObject({ status: 'lost', attempt: 2, worker: null, leaseExpiresAt: null });
    expect(lost?.finishedAt).toBeTruthy();
    expect(lost?.history.map((x) => x.outcome)).toEqual(['lease expired', 'lease expired (lost)']);
    const exp = await storedExperiment(j.id);
    expect(exp?.status).toBe('lost');
    expect(exp?.warnings.join('\n')).toMatch(/2 attempts/);
    expect((await lease(queue)).body.lease).toBeNull();
    for (const t of [a1.token, a2.token]) expectError(await heartbeat(j.id, t), 409, 'E_LEASE_LOST');
  });

  it('no lease is given out while its check cannot be scheduled: the job stays queued, not leased to nobody', async () => {
    const queue = freshQueue();
    const j = await queueJob(queue);
    const tasks = deps().tasks;
    deps().tasks = {
      enqueue: async () => {
        throw new StudioError('E_UNAVAILABLE', 'Cloud Tasks unavailable');
      },
    };
    try {
      expectError(await lease(queue), 503, 'E_UNAVAILABLE');
    } finally {
      if (tasks) deps().tasks = tasks;
    }
    expect(await storedJob(j.id)).toMatchObject({ status: 'queued', attempt: 0, worker: null, leaseExpiresAt: null });
    expect((await storedExperiment(j.id))?.status).toBe('queued');
    expect((await leaseOne(queue)).job.attempt).toBe(1);
  });

  it('a stop requested before the worker went silent ends as stopped, not requeued', async () => {
    const queue = freshQueue();
    const j = await queueJob(queue);
    await leaseOne(queue);
    expect((await stop(j.id)).status).toBe(200);
    offset = 61;
    expect(await checkLease(deps(), { team: TEAM, id: j.id, attempt: 1 })).toBe('stopped');
    expect((await storedJob(j.id))?.status).toBe('stopped');
    expect((await storedExperiment(j.id))?.status).toBe('stopped');
  });
});

describe('deadlines (the job-deadline task)', () => {
  it('--lifetime: a job still queued at its deadline expires; before it the task is stale', async () => {
    const queue = freshQueue();
    const j = await queueJob(queue, { lifetimeSeconds: 30 });
    expect(Date.parse(j.notAfter as string) - Date.parse(j.queuedAt)).toBe(30_000);
    expect(await jobDeadline(deps(), { team: TEAM, id: j.id, kind: 'lifetime' })).toBe('stale');
    expect((await storedJob(j.id))?.status).toBe('queued');
    offset = 31;
    expect(await jobDeadline(deps(), { team: TEAM, id: j.id, kind: 'lifetime' })).toBe('expired');
    expect(await jobDeadline(deps(), { team: TEAM, id: j.id, kind: 'lifetime' })).toBe('stale');
    expect((await storedJob(j.id))?.status).toBe('expired');
    const exp = await storedExperiment(j.id);
    expect(exp?.status).toBe('expired');
    expect(exp?.warnings.join('\n')).toMatch(/lifetime/);
    expect((await lease(queue)).body.lease).toBeNull();
  });

  it('--lifetime passed without the task: the next lease request drops the job instead of running it', async () => {
    const queue = freshQueue();
    const late = await queueJob(queue, { lifetimeSeconds: 10 });
    offset = 1;
    const ok = await queueJob(queue);
    offset = 11;
    const l = await leaseOne(queue);
    expect(l.job.id).toBe(ok.id);
    expect((await storedJob(late.id))?.status).toBe('expired');
    expect((await storedExperiment(late.id))?.status).toBe('expired');
  });

  it('--lifetime does not touch a job that was leased in time', async () => {
    const queue = freshQueue();
    const j = await queueJob(queue, { lifetimeSeconds: 30 });
    await leaseOne(queue);
    offset = 31;
    expect(await jobDeadline(deps(), { team: TEAM, id: j.id, kind: 'lifetime' })).toBe('stale');
    expect((await storedJob(j.id))?.status).toBe('leased');
  });

  it('--max-duration: the worker is told to kill on its next heartbeat; the run ends as stopped', async () => {
    const queue = freshQueue();
    const j = await queueJob(queue, { maxDurationSeconds: 30 });
    const l = await leaseOne(queue);
    expect(await jobDeadline(deps(), { team: TEAM, id: j.id, kind: 'max-duration', attempt: 2 })).toBe('stale');
    expect((await heartbeat(j.id, l.token)).body.stop).toBeNull();
    offset = 31;
    expect(await jobDeadline(deps(), { team: TEAM, id: j.id, kind: 'max-duration', attempt: 1 })).toBe(
      'kill-requested',
    );
    const hb = await heartbeat(j.id, l.token);
    expect(hb.status, hb.text).toBe(200);
    expect(hb.body.stop).toBe('kill');
    expect(hb.body.stopReason).toMatch(/max-duration/);
    // The killed script exits with a signal; the worker reports failed, the job records stopped.
    const done = await complete(j.id, l.token, { status: 'failed', exitCode: null, signal: 'SIGKILL' });
    expect(done.body.job).toMatchObject({ status: 'stopped', signal: 'SIGKILL' });
    const exp = await storedExperiment(j.id);
    expect(exp?.status).toBe('stopped');
    expect(exp?.warnings.join('\n')).toMatch(/max-duration/);
  });
});

describe('stop and kill', () => {
  it('deleting an experiment removes its job: the key queues again, and the earlier job’s tasks leave the new one alone', async () => {
    const queue = freshQueue();
    const first = await queueJob(queue, { maxDurationSeconds: 30 });
    const l1 = await leaseOne(queue);
    const del = await h.call('DELETE', `/v1/experiments/${enc(first.id)}?force=true`);
    expect(del.status, del.text).toBe(200);
    expect(await storedJob(first.id)).toBeNull();
    expectError(await heartbeat(first.id, l1.token), 409, 'E_LEASE_LOST');

    offset += 1; // another queuedAt: the job's generation
    const second = await queueJob(queue, { maxDurationSeconds: 30 }, first.id);
    expect(second.queuedAt).not.toBe(first.queuedAt);
    const l2 = await leaseOne(queue);
    expect(l2.job.attempt).toBe(1);
    offset += 31;
    // Tasks the first job scheduled (same key, same attempt number) are stale for the second.
    const old = { team: TEAM, id: first.id, queuedAt: first.queuedAt };
    expect(await jobDeadline(deps(), { ...old, kind: 'max-duration', attempt: 1 })).toBe('stale');
    expect(await checkLease(deps(), { ...old, attempt: 1 })).toBe('stale');
    expect((await storedJob(first.id))?.stopRequested).toBeNull();
    // Its own task still acts.
    expect(await jobDeadline(deps(), { ...old, queuedAt: second.queuedAt, kind: 'max-duration', attempt: 1 })).toBe(
      'kill-requested',
    );
    expect((await heartbeat(first.id, l2.token)).body.stop).toBe('kill');
  });

  it('a queued job stops at once and is never leased', async () => {
    const queue = freshQueue();
    const j = await queueJob(queue);
    const res = await stop(j.id);
    expect(res.status, res.text).toBe(200);
    expect(res.body.job).toMatchObject({ status: 'stopped', stopRequested: 'stop', attempt: 0 });
    expect((await storedExperiment(j.id))?.status).toBe('stopped');
    expect((await lease(queue)).body.lease).toBeNull();
    expectError(await stop(j.id, 'kill'), 409, 'E_CONFLICT');
  });

  it('a leased job is flagged: heartbeat reports stop, then kill (which never downgrades)', async () => {
    const queue = freshQueue();
    const j = await queueJob(queue);
    const l = await leaseOne(queue);
    const s = await stop(j.id);
    expect(s.body.job).toMatchObject({ status: 'leased', stopRequested: 'stop' });
    const hb1 = await heartbeat(j.id, l.token);
    expect(hb1.body).toMatchObject({ stop: 'stop', stopReason: expect.stringMatching(/eddie/) });
    await stop(j.id, 'kill');
    expect((await heartbeat(j.id, l.token)).body.stop).toBe('kill');
    await stop(j.id, 'stop');
    expect((await heartbeat(j.id, l.token)).body.stop).toBe('kill');
    const done = await complete(j.id, l.token, { status: 'stopped', exitCode: 143 });
    expect(done.body.job.status).toBe('stopped');
    expect((await storedExperiment(j.id))?.status).toBe('stopped');
  });

  it('stop of an experiment without a job is 404', async () => {
    const key = uniqueKey('nojob');
    await createExperiment(h, key);
    expectError(await stop(key), 404, 'E_NOT_FOUND');
  });
});

describe('resources', () => {
  it('a job needing a GPU is not leased to a worker offering none; a CPU job behind it is', async () => {
    const queue = freshQueue();
    const gpu = await queueJob(queue, { spec: { ...SPEC, resources: { gpus: 1 } } });
    offset = 1;
    const cpu = await queueJob(queue);
    const l1 = await leaseOne(queue, { id: 'cpu-box', resources: { cpus: 8 } });
    expect(l1.job.id).toBe(cpu.id);
    expect((await lease(queue, { resources: { cpus: 8, gpus: 0 } })).body.lease).toBeNull();
    expect((await storedJob(gpu.id))?.status).toBe('queued');
    const l2 = await leaseOne(queue, { id: 'gpu-box', resources: { gpus: 2 } });
    expect(l2.job.id).toBe(gpu.id);
  });
});

describe('resources: a long queue of jobs a worker cannot run', () => {
  it('30 GPU jobs ahead do not starve a CPU worker of the CPU job behind them', async () => {
    const queue = freshQueue();
    for (let i = 0; i < 30; i++) {
      offset = i / 100;
      await queueJob(queue, { spec: { ...SPEC, resources: { gpus: 1 } } });
    }
    offset = 1;
    const cpu = await queueJob(queue);
    const l = await leaseOne(queue, { id: 'cpu-only' });
    expect(l.job.id).toBe(cpu.id);
    expect((await lease(queue)).body.lease).toBeNull();
    expect((await leaseOne(queue, { resources: { gpus: 1 } })).job.spec.resources).toEqual({ gpus: 1 });
  });
});

describe('secrets in the command line', () => {
  it('only the worker gets the real argv; every other answer, and the experiment, has it redacted', async () => {
    const queue = freshQueue();
    const key = uniqueKey('secret');
    const command = ['python', 'train.py', '--api-key', 'hunter2-very-secret', 'WANDB_TOKEN=abc123'];
    await queuedExperiment(key, { command });
    const sub = await submit(key, { queue, spec: { ...SPEC, command } });
    expect(sub.status, sub.text).toBe(201);
    expect(sub.text).not.toContain('hunter2');
    expect(sub.body.job.spec.command).toEqual(['python', 'train.py', '--api-key', '***', 'WANDB_TOKEN=***']);
    expect((await storedExperiment(key))?.command).toEqual(sub.body.job.spec.command);
    for (const path of [jobRoute.get(key), jobRoute.list(`?queue=${queue}`)]) {
      const res = await h.call('GET', path, { token: tok.viewer });
      expect(res.status, res.text).toBe(200);
      expect(res.text).not.toContain('hunter2');
      expect(res.text).not.toContain('abc123');
    }
    const l = await leaseOne(queue);
    expect(l.job.spec.command).toEqual(command); // the worker must run the real thing
    expect(
      (await h.call<{ job: JobRecord }>('GET', jobRoute.get(key), { token: l.token })).body.job.spec.command,
    ).toEqual(command);
    const s = await stop(key);
    expect(s.text).not.toContain('hunter2');
    // Warnings a worker reports are redacted like a local run's.
    const done = await complete(key, l.token, {
      status: 'stopped',
      warnings: [`fetch https://u:pw@example.com/x failed`],
    });
    expect(done.status, done.text).toBe(200);
    expect((await storedExperiment(key))?.warnings[0]).toBe('fetch https://u:***@example.com/x failed');
  });
});

describe('bad input on every job route: 400, nothing stored', () => {
  it.each<[string, unknown, ErrorCode]>([
    ['unknown top-level field', { queue: 'q', spec: SPEC, priority: 1 }, 'E_BAD_REQUEST'],
    ['unknown spec field', { queue: 'q', spec: { ...SPEC, env: { A: '1' } } }, 'E_BAD_REQUEST'],
    ['no spec', { queue: 'q' }, 'E_BAD_REQUEST'],
    ['empty command', { queue: 'q', spec: { ...SPEC, command: [] } }, 'E_BAD_REQUEST'],
    ['upper-case queue', { queue: 'Gpu', spec: SPEC }, 'E_BAD_REQUEST'],
    ['queue with a slash', { queue: 'a/b', spec: SPEC }, 'E_BAD_REQUEST'],
    ['queue starting with a dash', { queue: '-q', spec: SPEC }, 'E_BAD_REQUEST'],
    ['empty queue', { queue: '', spec: SPEC }, 'E_BAD_REQUEST'],
    ['queue of 64 chars', { queue: 'q'.repeat(64), spec: SPEC }, 'E_BAD_REQUEST'],
    ['capture path ../x', { queue: 'q', spec: { ...SPEC, captures: [{ tag: 'out', path: '../x' }] } }, 'E_BAD_PATH'],
    [
      'capture path a/../../x',
      { queue: 'q', spec: { ...SPEC, captures: [{ tag: 'o', path: 'a/../../x' }] } },
      'E_BAD_PATH',
    ],
    [
      'absolute capture path',
      { queue: 'q', spec: { ...SPEC, captures: [{ tag: 'out', path: '/etc' }] } },
      'E_BAD_PATH',
    ],
    ['input path ../x', { queue: 'q', spec: { ...SPEC, inputs: [{ tag: 'ws', path: '../x' }] } }, 'E_BAD_PATH'],
    ['capture tag with a slash', { queue: 'q', spec: { ...SPEC, captures: [{ tag: 'a/b', path: 'x' }] } }, 'E_BAD_TAG'],
    ['reserved tag', { queue: 'q', spec: { ...SPEC, captures: [{ tag: 'mapping', path: 'x' }] } }, 'E_BAD_TAG'],
    ['negative resource', { queue: 'q', spec: { ...SPEC, resources: { gpus: -1 } } }, 'E_BAD_REQUEST'],
    ['bad resource name', { queue: 'q', spec: { ...SPEC, resources: { 'GPU!': 1 } } }, 'E_BAD_REQUEST'],
    ['zero capture interval', { queue: 'q', spec: { ...SPEC, captureInterval: 0 } }, 'E_BAD_REQUEST'],
    ['zero lifetime', { queue: 'q', spec: SPEC, lifetimeSeconds: 0 }, 'E_BAD_REQUEST'],
    ['lifetime over 30 days', { queue: 'q', spec: SPEC, lifetimeSeconds: 31 * 24 * 3600 }, 'E_BAD_REQUEST'],
    ['fractional max-duration', { queue: 'q', spec: SPEC, maxDurationSeconds: 1.5 }, 'E_BAD_REQUEST'],
    ['maxAttempts 0', { queue: 'q', spec: SPEC, maxAttempts: 0 }, 'E_BAD_REQUEST'],
    ['maxAttempts 21', { queue: 'q', spec: SPEC, maxAttempts: 21 }, 'E_BAD_REQUEST'],
    ['an array body', [], 'E_BAD_REQUEST'],
  ])('submit: %s', async (_name, body, code) => {
    const key = uniqueKey('bad');
    await queuedExperiment(key);
    const before = jobRows();
    expectError(await h.call('POST', jobRoute.submit(key), { token: tok.editor, body }), 400, code);
    expect(jobRows()).toEqual(before);
    expect((await storedExperiment(key))?.status).toBe('queued');
  });

  it('submit: malformed JSON, bad experiment keys, unknown or non-queued experiments', async () => {
    const key = uniqueKey('bad');
    await queuedExperiment(key);
    const before = jobRows();
    expectError(await h.call('POST', jobRoute.submit(key), { raw: '{"queue":', token: tok.editor }), 400, 'E_BAD_JSON');
    // ('..' itself never reaches the server as a segment: URL parsing removes dot segments.)
    for (const bad of ['a..b', '..x', '.hidden', 'a b', 'x'.repeat(129)]) {
      expectError(await submit(bad, { queue: 'q' }, { token: tok.editor }), 400, 'E_BAD_KEY');
    }
    expectError(
      await h.call('POST', '/v1/experiments/%E0%A4%A/job', { body: { queue: 'q', spec: SPEC } }),
      400,
      'E_BAD_REQUEST',
    );
    expect(jobRows()).toEqual(before);
    expectError(await submit(uniqueKey('missing'), { queue: 'q' }), 404, 'E_NOT_FOUND');
    const running = uniqueKey('running');
    await createExperiment(h, running);
    expectError(await submit(running, { queue: 'q' }), 409, 'E_CONFLICT');
    expect(jobRows().jobs).toEqual(before.jobs);
  });

  it('lease: bad queue names in the path, bad bodies', async () => {
    const queue = freshQueue();
    const j = await queueJob(queue);
    const before = jobRows();
    const worker = { id: 'w', host: 'h', resources: {} };
    for (const q of ['Bad', '-q', 'a.b', '..q', 'q'.repeat(64), 'a%2Fb', '%00']) {
      const res = await h.call('POST', `/v1/queues/${q}/lease`, { token: tok.editor, body: { worker } });
      expectError(res, 400, 'E_BAD_REQUEST');
    }
    for (const body of [
      {},
      { worker, waitSeconds: 0, extra: 1 },
      { worker: { ...worker, id: '' } },
      { worker: { ...worker, cpu: 1 } },
      { worker: { ...worker, resources: { gpus: -1 } } },
      { worker, waitSeconds: -1 },
      { worker, waitSeconds: 61 },
      null,
    ]) {
      const res = await h.call('POST', jobRoute.lease(queue), { token: tok.editor, body });
      expectError(res, 400, 'E_BAD_REQUEST');
    }
    expectError(await h.call('POST', jobRoute.lease(queue), { token: tok.editor, raw: 'nope' }), 400, 'E_BAD_JSON');
    expect(jobRows()).toEqual(before);
    expect((await storedJob(j.id))?.status).toBe('queued');
  });

  it('complete, stop, get, list: bad bodies and parameters', async () => {
    const queue = freshQueue();
    const j = await queueJob(queue);
    const l = await leaseOne(queue);
    const before = jobRows();
    for (const [body, code] of [
      [{ status: 'finished', exitCode: 0, extra: true }, 'E_BAD_REQUEST'],
      [{ status: 'lost', exitCode: 0 }, 'E_BAD_REQUEST'],
      [{ status: 'finished' }, 'E_BAD_REQUEST'],
      [{ status: 'finished', exitCode: 1.5 }, 'E_BAD_REQUEST'],
      [{ status: 'finished', exitCode: 0, artifacts: { out: 0 } }, 'E_BAD_REQUEST'],
      [{ status: 'finished', exitCode: 0, artifacts: { '../x': 1 } }, 'E_BAD_TAG'],
      [{ status: 'finished', exitCode: 0, stats: { '': 1 } }, 'E_BAD_REQUEST'],
      [{ status: 'finished', exitCode: 0, stats: { __name__: 1 } }, 'E_BAD_REQUEST'],
      [{ status: 'finished', exitCode: 0, stats: { bytes: 'many' } }, 'E_BAD_REQUEST'],
      [{ status: 'finished', exitCode: 0, warnings: 'one' }, 'E_BAD_REQUEST'],
    ] as [unknown, ErrorCode][]) {
      expectError(await h.call('POST', jobRoute.complete(j.id), { token: l.token, body }), 400, code);
    }
    expectError(await h.call('POST', jobRoute.complete(j.id), { token: l.token, raw: '{' }), 400, 'E_BAD_JSON');
    for (const body of [{ mode: 'pause' }, { mode: 'stop', reason: 'x' }, 'stop']) {
      expectError(await h.call('POST', jobRoute.stop(j.id), { token: tok.editor, body }), 400, 'E_BAD_REQUEST');
    }
    expectError(await h.call('POST', '/v1/experiments/a..b/stop', { token: tok.editor, body: {} }), 400, 'E_BAD_KEY');
    expectError(await h.call('GET', '/v1/experiments/a..b/job', { token: tok.viewer }), 400, 'E_BAD_KEY');
    for (const q of ['?status=bogus', '?status=queued,nope', '?limit=0', '?limit=x', '?queue=Bad', '?queue=a%2Fb']) {
      expectError(await h.call('GET', jobRoute.list(q), { token: tok.viewer }), 400, 'E_BAD_REQUEST');
    }
    expect(jobRows()).toEqual(before);
    expect((await storedJob(j.id))?.status).toBe('leased');
    expect((await storedExperiment(j.id))?.status).toBe('running');
    expect((await complete(j.id, l.token)).status).toBe(200);
  });
});

describe('authorization on every job route', () => {
  type Cred = 'none' | 'expired' | 'viewer' | 'otherTeam' | 'otherJob';
  const CREDS: Cred[] = ['none', 'expired', 'viewer', 'otherTeam', 'otherJob'];
  const ROUTES = ['submit', 'get', 'stop', 'lease', 'heartbeat', 'complete', 'list'] as const;
  type R = (typeof ROUTES)[number];
  const U = [401, 'E_UNAUTHENTICATED'] as const;
  const X = [401, 'E_TOKEN_EXPIRED'] as const;
  const F = [403, 'E_FORBIDDEN'] as const;
  const OK = [200] as const;
  // biome-ignore format: a table
  const MATRIX: Record<R, Record<Cred, readonly [number, ErrorCode?]>> = {
    submit:    { none: U, expired: X, viewer: F,  otherTeam: F, otherJob: F },
    get:       { none: U, expired: X, viewer: OK, otherTeam: F, otherJob: F },
    stop:      { none: U, expired: X, viewer: F,  otherTeam: F, otherJob: F },
    lease:     { none: U, expired: X, viewer: F,  otherTeam: F, otherJob: F },
    heartbeat: { none: U, expired: X, viewer: F,  otherTeam: F, otherJob: F },
    complete:  { none: U, expired: X, viewer: F,  otherTeam: F, otherJob: F },
    list:      { none: U, expired: X, viewer: OK, otherTeam: F, otherJob: F },
  };

  const queue = freshQueue();
  let submitTarget: string;
  let leased: JobRecord;
  let otherJobToken: string;
  const creds = {} as Record<Cred, CallOptions>;

  beforeAll(async () => {
    submitTarget = uniqueKey('authz-submit');
    await queuedExperiment(submitTarget);
    const otherQueue = freshQueue();
    await queueJob(otherQueue);
    otherJobToken = (await leaseOne(otherQueue)).token;
    leased = await queueJob(queue);
    await leaseOne(queue);
    await queueJob(queue); // something a refused lease could take
    creds.none = { token: null };
    creds.expired = { token: tok.expired };
    creds.viewer = { token: tok.viewer };
    creds.otherTeam = { token: tok.other, team: TEAM };
    creds.otherJob = { token: otherJobToken };
  });

  function request(r: R): { method: string; path: string; body?: unknown } {
    switch (r) {
      case 'submit':
        return { method: 'POST', path: jobRoute.submit(submitTarget), body: { queue, spec: SPEC } };
      case 'get':
        return { method: 'GET', path: jobRoute.get(leased.id) };
      case 'stop':
        return { method: 'POST', path: jobRoute.stop(leased.id), body: { mode: 'kill' } };
      case 'lease':
        return { method: 'POST', path: jobRoute.lease(queue), body: { worker: { id: 'thief' } } };
      case 'heartbeat':
        return { method: 'POST', path: jobRoute.heartbeat(leased.id) };
      case 'complete':
        return { method: 'POST', path: jobRoute.complete(leased.id), body: { status: 'failed', exitCode: 1 } };
      case 'list':
        return { method: 'GET', path: jobRoute.list() };
    }
  }

  describe.each(ROUTES)('%s', (r) => {
    it.each(CREDS)('%s', async (cred) => {
      const [status, code] = MATRIX[r][cred];
      const req = request(r);
      const before = jobRows();
      const res: ApiResult<unknown> = await h.call(req.method, req.path, { ...creds[cred], body: req.body });
      if (code) {
        expectError(res, status, code);
        expect(jobRows()).toEqual(before);
        // Outsiders learn nothing about the team's jobs (the others only see the id they sent).
        if (cred === 'none' || cred === 'expired' || cred === 'otherTeam') expect(res.text).not.toContain(leased.id);
      } else {
        expect(res.status, res.text).toBe(status);
      }
    });
  });

  it('a viewer sees jobs but never a lease token', async () => {
    const res = await h.call<{ jobs: JobRecord[] }>('GET', jobRoute.list(`?queue=${queue}`), { token: tok.viewer });
    expect(res.body.jobs.map((j) => j.id)).toContain(leased.id);
    expect(res.text).not.toMatch(/slt_/);
  });
});

describe('many workers, one queue', () => {
  it('4 clients long-polling one queue, 20 jobs submitted meanwhile: every job leased exactly once', async () => {
    const queue = freshQueue();
    const N = 20;
    const leases: LeaseResult[] = [];
    const deadline = Date.now() + 15_000;
    const worker = async (i: number) => {
      const mine: LeaseResult[] = [];
      while (leases.length < N && Date.now() < deadline) {
        const res = await lease(queue, { id: `w${i}`, host: `host-${i}` }, { waitSeconds: 2 });
        expect(res.status, res.text).toBe(200);
        if (res.body.lease) {
          mine.push(res.body.lease);
          leases.push(res.body.lease);
        }
      }
      return mine;
    };
    const workers = [0, 1, 2, 3].map(worker);
    const submitted: string[] = [];
    for (let i = 0; i < N; i++) {
      submitted.push((await queueJob(queue)).id);
      if (i % 5 === 4) await new Promise((r) => setTimeout(r, 50));
    }
    const perWorker = await Promise.all(workers);
    expect(leases).toHaveLength(N);
    expect(new Set(leases.map((l) => l.job.id))).toEqual(new Set(submitted));
    expect(new Set(leases.map((l) => l.token)).size).toBe(N);
    expect(leases.every((l) => l.job.attempt === 1)).toBe(true);
    // Each lease went to the worker that asked for it, and the store agrees.
    perWorker.forEach((mine, i) => {
      for (const l of mine) expect(l.job.worker?.id).toBe(`w${i}`);
    });
    for (const id of submitted) {
      const j = await storedJob(id);
      expect(j).toMatchObject({ status: 'leased', attempt: 1 });
      expect(j?.history).toHaveLength(1);
    }
    // More than one worker got work (they really polled side by side).
    expect(perWorker.filter((m) => m.length > 0).length).toBeGreaterThan(1);
  }, 30_000);
});
