/**
 * Push (issue 16) over HTTP on a real local host: `PUT /v1/experiments/:key/push` opens (or reopens) an experiment for
 * a push with the source's record, `POST …/push/versions` appends exactly the version it names with its creator and
 * time (blobs through the usual plan, signed uploads and pack registration), `POST …/push/complete` writes the
 * source's record and one `experiment.push` audit entry. Every step is idempotent; diverged histories, gaps, another
 * history under the key and lineage this team lacks are E_CONFLICT with a reason; hostile bodies get stable codes
 * and store nothing; only people with the editor role push, and only who may delete an experiment may push over it.
 */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, ExperimentRecord, VersionWithManifest } from '../../src/contract/model.ts';
import { historyId, pushedRecord, samePushedRecord } from '../../src/contract/push.ts';
import type { PushBeginBody, PushCompleteBody, PushVersionBody } from '../../src/contract/schemas.ts';
import { blobBytes, blobRequest } from '../../src/contract/transfer.ts';
import type {
  CommitVersionResponse,
  DownloadResponse,
  ErrorBody,
  PushBeginResponse,
  ShowExperimentResponse,
} from '../../src/contract/wire.ts';
import { mintToken } from '../../src/core/tokens.ts';
import {
  type ApiResult,
  bytes,
  type CallOptions,
  commit,
  createExperiment,
  expectError,
  type FileSpec,
  type Harness,
  manifestOf,
  mintUserToken,
  route,
  STATS,
  sha256,
  sorted,
  startHarness,
  TEAM,
  text,
  uniqueKey,
  uploadBlobs,
} from './helpers.ts';
import { auditOf, leaseJobToken, teamRoute, teamState } from './team-helpers.ts';

/** A record as a push carries it (an ended status). */
type PushedRecord = PushBeginBody['record'];

const OTHER_TEAM = 'other-team';
const enc = encodeURIComponent;
const pushRoute = {
  begin: (key: string) => `/v1/experiments/${enc(key)}/push`,
  versions: (key: string) => `/v1/experiments/${enc(key)}/push/versions`,
  complete: (key: string) => `/v1/experiments/${enc(key)}/push/complete`,
};

let h: Harness;
/** Callers: the pusher and another editor of the team, a viewer, an expired admin, outsiders and robots. */
const as: Record<
  'pusher' | 'editor2' | 'viewer' | 'expired' | 'otherTeam' | 'removed' | 'readOnly' | 'worker',
  CallOptions
> = {
  pusher: {},
  editor2: {},
  viewer: {},
  expired: {},
  otherTeam: {},
  removed: {},
  readOnly: {},
  worker: {},
};
const PUSHER = 'pat-pusher';
const EDITOR2 = 'ed-other';

beforeAll(async () => {
  h = await startHarness();
  // Job tokens must outlive the test run (every job-token request checks its lease).
  const deps = h.server.backend.deps;
  deps.jobSettings = { ...deps.jobSettings, leaseSeconds: 3600 };
  as.pusher = { token: await mintUserToken(h, PUSHER, { [TEAM]: 'editor' }) };
  as.editor2 = { token: await mintUserToken(h, EDITOR2, { [TEAM]: 'editor' }) };
  as.viewer = { token: await mintUserToken(h, 'vic-viewer', { [TEAM]: 'viewer' }) };
  as.expired = {
    token: await mintUserToken(h, 'old-admin', { [TEAM]: 'admin' }, { expiresAt: new Date(Date.now() - 60_000) }),
  };
  as.otherTeam = { token: await mintUserToken(h, 'mallory', { [OTHER_TEAM]: 'admin' }), team: TEAM };
  as.removed = { token: await mintUserToken(h, 'leaver', { [TEAM]: 'editor' }) };
  await h.accounts.setMembership(TEAM, 'leaver', null);
  await h.accounts.putUser({ id: 'rhoda', name: 'rhoda', createdAt: new Date().toISOString() });
  await h.accounts.setMembership(TEAM, 'rhoda', 'admin');
  const ro = await mintToken(h, {
    userId: 'rhoda',
    kind: 'personal',
    scopes: ['read'],
    expiresAt: null,
    now: new Date(),
  });
  as.readOnly = { token: ro.secret };
  const w = await h.call<{ secret: string }>('POST', '/v1/worker-tokens', { body: { queue: 'q' } });
  expect(w.status, w.text).toBe(201);
  as.worker = { token: w.body.secret };
});
afterAll(async () => {
  await h?.close();
});

// ---------------------------------------------------------------------------------------------------------------
// Fixtures
// ---------------------------------------------------------------------------------------------------------------

const newOrigin = () => randomBytes(32).toString('hex');

/** An ended experiment as the source backend has it: another owner, two attempts, its own times. */
function sourceRecord(over: Partial<PushedRecord> = {}): PushedRecord {
  return {
    project: 'pushed-proj',
    owner: 'alice-src',
    status: 'finished',
    command: ['python', 'train.py', '--lr', '0.1'],
    cwd: '/home/alice/proj',
    host: 'alice-laptop',
    git: { commit: 'abc1234', url: 'https://example.com/repo.git', dirty: true },
    createdAt: '2024-01-02T03:04:05.000Z',
    startedAt: '2024-01-02T03:04:05.000Z',
    finishedAt: '2024-01-02T05:00:00.000Z',
    exitCode: 0,
    signal: null,
    warnings: ['out: big.log: unreadable'],
    lineage: [],
    attempt: 2,
    attempts: [
      {
        attempt: 1,
        status: 'lost',
        command: ['python', 'train.py'],
        host: 'alice-laptop',
        startedAt: '2024-01-02T03:04:05.000Z',
        finishedAt: '2024-01-02T03:30:00.000Z',
        lastSeenAt: '2024-01-02T03:29:00.000Z',
        exitCode: null,
        signal: null,
      },
      {
        attempt: 2,
        status: 'finished',
        command: ['python', 'train.py', '--lr', '0.1'],
        host: 'alice-laptop',
        startedAt: '2024-01-02T04:00:00.000Z',
        finishedAt: '2024-01-02T05:00:00.000Z',
        lastSeenAt: '2024-01-02T05:00:00.000Z',
        exitCode: 0,
        signal: null,
      },
    ],
    lastSeenAt: '2024-01-02T05:00:00.000Z',
    ...over,
  };
}

function beginBody(origin: string, over: Partial<PushBeginBody> = {}): PushBeginBody {
  return { origin, from: 'local', host: 'pusher-box', record: sourceRecord(), ...over };
}

function versionBody(tag: string, version: number, files: FileSpec[], over: Partial<PushVersionBody> = {}) {
  return {
    tag,
    mutable: true,
    version,
    manifest: manifestOf(files),
    stats: { ...STATS, hashedFiles: files.length, uploadedBlobs: files.length },
    createdBy: 'alice-src',
    createdAt: `2024-01-02T04:${String(10 + version).padStart(2, '0')}:00.000Z`,
    ...over,
  } satisfies PushVersionBody;
}

function completeBody(record: PushedRecord = sourceRecord(), over: Partial<PushCompleteBody> = {}): PushCompleteBody {
  return { record, versionsCreated: 1, uploadedBlobs: 1, uploadedBytes: 10, ...over };
}

const begin = (key: string, body: unknown, opts: CallOptions = as.pusher) =>
  h.call<PushBeginResponse>('PUT', pushRoute.begin(key), { ...opts, body });
const pushVersion = (key: string, body: unknown, opts: CallOptions = as.pusher) =>
  h.call<CommitVersionResponse>('POST', pushRoute.versions(key), { ...opts, body });
const complete = (key: string, body: unknown, opts: CallOptions = as.pusher) =>
  h.call<{ experiment: ExperimentRecord }>('POST', pushRoute.complete(key), { ...opts, body });

/** Fresh file contents (unique per call, so the team never has them before). */
function files(label: string): FileSpec[] {
  const tag = randomBytes(4).toString('hex');
  return [
    { path: 'weights/small.txt', data: text(`small ${label} ${tag}\n`) },
    { path: 'notes.md', data: text(`notes ${label} ${tag}\n`) },
  ];
}

/** Everything a refused request must leave as it was: every data row, stored file, audit entry and membership. */
async function state(): Promise<unknown> {
  return { store: await h.snapshot(), team: teamState(h) };
}

const detailsOf = (res: ApiResult<unknown>) => (res.body as ErrorBody).error.details;
const reasonOf = (res: ApiResult<unknown>) => detailsOf(res)?.reason;

const pushAudit = async (key: string): Promise<AuditEntry[]> =>
  (await auditOf(h, TEAM)).filter((e) => e.action === 'experiment.push' && e.target === key).reverse();

/** A key pushed by `opts` and left receiving (begun, no version yet). */
async function receiving(
  opts: CallOptions = as.pusher,
  record = sourceRecord(),
): Promise<{ key: string; origin: string }> {
  const key = uniqueKey('recv');
  const origin = newOrigin();
  const res = await begin(key, beginBody(origin, { record }), opts);
  expect(res.status, res.text).toBe(201);
  return { key, origin };
}

/** A key pushed completely by `opts`: begun, one version of `model`, completed. */
async function pushed(opts: CallOptions = as.pusher): Promise<{ key: string; origin: string; data: FileSpec[] }> {
  const { key, origin } = await receiving(opts);
  const data = files(key);
  await uploadBlobs(
    h,
    key,
    'model',
    data.map((f) => f.data),
    opts,
  );
  const v = await pushVersion(key, versionBody('model', 1, data), opts);
  expect(v.status, v.text).toBe(201);
  const c = await complete(key, completeBody(), opts);
  expect(c.status, c.text).toBe(200);
  return { key, origin, data };
}

/** A version of an experiment created here (to name in lineage). */
async function localVersion(): Promise<{ key: string; tag: string; version: number }> {
  const key = uniqueKey('lineage-src');
  await createExperiment(h, key);
  const data = text(`lineage source ${key}\n`);
  await uploadBlobs(h, key, 'w', [data]);
  const c = await commit(h, key, 'w', manifestOf([{ path: 'w.bin', data }]));
  expect(c.status, c.text).toBe(201);
  return { key, tag: 'w', version: 1 };
}

// ---------------------------------------------------------------------------------------------------------------
// 1. The whole push
// ---------------------------------------------------------------------------------------------------------------

describe('a push from begin to complete', () => {
  it('creates the experiment with the source record, receives versions through plans and packs, completes it once', async () => {
    const key = uniqueKey('push');
    const origin = newOrigin();
    const record = sourceRecord();
    const t0 = Date.now();

    // begin: created, the source's record as it is, the push marker, no lease.
    const b = await begin(key, beginBody(origin, { record }));
    expect(b.status, b.text).toBe(201);
    expect(b.body.created).toBe(true);
    expect(b.body.experiment).toEqual({
      ...record,
      team: TEAM,
      key,
      leaseExpiresAt: null,
      push: { origin, from: 'local', by: PUSHER, host: 'pusher-box', at: expect.any(String), complete: false },
    });
    const at = Date.parse(b.body.experiment.push?.at as string);
    expect(at).toBeGreaterThanOrEqual(t0 - 1000);
    expect(at).toBeLessThanOrEqual(Date.now() + 1000);
    const show = await h.call<ShowExperimentResponse>('GET', route.experiment(key), as.viewer);
    expect(show.status, show.text).toBe(200);
    expect(show.body.experiment).toEqual(b.body.experiment);
    expect(show.body.experiment.status).toBe('finished');
    expect(show.body.experiment.owner).toBe('alice-src');
    expect(show.body.experiment.createdAt).toBe(record.createdAt);
    expect(show.body.experiment.attempts).toEqual(record.attempts);
    expect(show.body.artifacts).toEqual([]);

    // The blobs go through the usual plan, signed uploads and pack registration, into an ended experiment.
    const small = files(key);
    const big: FileSpec = { path: 'weights/big.bin', data: bytes(300 * 1024, 1600 + (Date.now() % 1000)) };
    const v1Files = [...small, big];
    const plan = await uploadBlobs(
      h,
      key,
      'model',
      v1Files.map((f) => f.data),
      as.pusher,
    );
    expect(plan.present).toBe(0);
    expect(plan.uploads.map((u) => u.sha256)).toEqual([sha256(big.data)]);
    expect(plan.packs.flatMap((p) => p.members.map((m) => m.sha256)).sort()).toEqual(
      small.map((f) => sha256(f.data)).sort(),
    );
    const found = await h.blobIndex.findBlobs(
      TEAM,
      v1Files.map((f) => sha256(f.data)),
    );
    expect([...found.values()].every((b) => b.verified)).toBe(true);

    // Versions with their numbers, creators and times.
    const v1 = await pushVersion(key, versionBody('model', 1, v1Files));
    expect(v1.status, v1.text).toBe(201);
    expect(v1.body.created).toBe(true);
    expect(v1.body.version).toMatchObject({
      team: TEAM,
      experiment: key,
      tag: 'model',
      version: 1,
      createdBy: 'alice-src',
      createdAt: '2024-01-02T04:11:00.000Z',
      files: 3,
      bytes: v1Files.reduce((n, f) => n + f.data.length, 0),
    });
    const v2Files = files(`${key}-v2`);
    await uploadBlobs(
      h,
      key,
      'model',
      v2Files.map((f) => f.data),
      as.pusher,
    );
    const v2 = await pushVersion(key, versionBody('model', 2, v2Files, { createdBy: 'bob-src' }));
    expect(v2.status, v2.text).toBe(201);
    expect(v2.body.version).toMatchObject({ version: 2, createdBy: 'bob-src', createdAt: '2024-01-02T04:12:00.000Z' });
    // A second artifact, immutable, whose only blob the team already has (nothing to upload).
    const reused = [{ path: 'copy.bin', data: big.data }];
    const plan2 = await uploadBlobs(
      h,
      key,
      'logs',
      reused.map((f) => f.data),
      as.pusher,
    );
    expect(plan2).toMatchObject({ present: 1, uploads: [], packs: [] });
    const l1 = await pushVersion(key, versionBody('logs', 1, reused, { mutable: false }));
    expect(l1.status, l1.text).toBe(201);

    const got = await h.call<{ version: VersionWithManifest }>('GET', route.version(key, 'model', 1), as.viewer);
    expect(got.status, got.text).toBe(200);
    expect(got.body.version.manifest).toEqual(sorted(manifestOf(v1Files)));
    expect(got.body.version).toMatchObject({ createdBy: 'alice-src', createdAt: '2024-01-02T04:11:00.000Z' });
    // The pushed bytes download as they were sent (the big blob on its own, a small one from its pack).
    const dl = await h.call<DownloadResponse>('POST', route.downloads(key, 'model', 1), {
      ...as.viewer,
      body: { sha256s: v1Files.map((f) => sha256(f.data)) },
    });
    expect(dl.status, dl.text).toBe(200);
    for (const f of [big, ...small]) {
      const r = blobRequest(dl.body, sha256(f.data));
      if (!r) throw new Error(`no request for ${f.path}`);
      const res = await fetch(r.url, { headers: r.headers });
      const got = blobBytes(r, new Uint8Array(await res.arrayBuffer()));
      expect([f.path, res.status, sha256(got)]).toEqual([f.path, f === big ? 200 : 206, sha256(f.data)]);
    }

    // complete: the record as the source has it now (it changed meanwhile), the marker closed, one audit entry.
    const final = sourceRecord({
      warnings: ['out: big.log: unreadable', 'late warning'],
      exitCode: 3,
      status: 'failed',
    });
    const c = await complete(key, completeBody(final, { versionsCreated: 3, uploadedBlobs: 5, uploadedBytes: 4242 }));
    expect(c.status, c.text).toBe(200);
    expect(Object.keys(c.body)).toEqual(['experiment']);
    expect(c.body.experiment).toEqual({
      ...final,
      team: TEAM,
      key,
      leaseExpiresAt: null,
      push: { ...b.body.experiment.push, complete: true },
    });
    const after = await h.call<ShowExperimentResponse>('GET', route.experiment(key), as.viewer);
    expect(after.body.experiment).toEqual(c.body.experiment);
    expect(samePushedRecord(pushedRecord(after.body.experiment), final)).toBe(true);
    expect(after.body.artifacts.map((a) => [a.tag, a.mutable, a.latestVersion, a.versions.length])).toEqual([
      ['logs', false, 1, 1],
      ['model', true, 2, 2],
    ]);
    expect(historyId(after.body.experiment)).toBe(origin);

    const audit = await pushAudit(key);
    expect(audit).toHaveLength(1);
    expect(audit[0]).toMatchObject({
      team: TEAM,
      action: 'experiment.push',
      target: key,
      actor: { userId: PUSHER, kind: 'personal' },
      details: {
        from: 'local',
        host: 'pusher-box',
        origin,
        owner: 'alice-src',
        versionsCreated: 3,
        uploadedBlobs: 5,
        uploadedBytes: 4242,
      },
    });

    // Completed: the experiment has ended like any other; its artifacts no longer change.
    const before = await state();
    const more = files(`${key}-late`);
    const late = more[0] as FileSpec;
    expectError(
      await h.call('POST', route.uploads(key, 'model'), {
        ...as.pusher,
        body: { blobs: [{ sha256: sha256(late.data), size: late.data.length }] },
      }),
      409,
      'E_CONFLICT',
    );
    expectError(await commit(h, key, 'model', manifestOf(v2Files), true, {}, as.pusher), 409, 'E_CONFLICT');
    expectError(await commit(h, key, 'model', manifestOf(v1Files), true, {}), 409, 'E_CONFLICT');
    expectError(await pushVersion(key, versionBody('model', 3, v1Files)), 409, 'E_CONFLICT');
    // Even the same version again: the push is over.
    expectError(await pushVersion(key, versionBody('model', 2, v2Files)), 409, 'E_CONFLICT');
    expectError(await complete(key, completeBody(final)), 409, 'E_CONFLICT');
    expect(await state()).toEqual(before);
    expect(await pushAudit(key)).toHaveLength(1);
  });

  it('pushes back an experiment that was made here: same history, reopened (200), not pushed before', async () => {
    const key = uniqueKey('pushback');
    const made = await createExperiment(h, key, { project: 'p' }, as.pusher);
    const fin = await h.call<{ experiment: ExperimentRecord }>('POST', route.finish(key), {
      ...as.pusher,
      body: { status: 'finished', exitCode: 0 },
    });
    expect(fin.status, fin.text).toBe(200);
    const origin = historyId(made.experiment);
    const record = sourceRecord({
      owner: PUSHER,
      createdAt: made.experiment.createdAt,
      project: 'p',
      warnings: ['from the other backend'],
    });
    const b = await begin(key, beginBody(origin, { record }));
    expect(b.status, b.text).toBe(200);
    expect(b.body.created).toBe(false);
    // The record stays as it is until complete; only the marker is set.
    expect(b.body.experiment).toEqual({
      ...fin.body.experiment,
      push: { origin, from: 'local', by: PUSHER, host: 'pusher-box', at: expect.any(String), complete: false },
    });
    const c = await complete(key, completeBody(record));
    expect(c.status, c.text).toBe(200);
    expect(c.body.experiment.warnings).toEqual(['from the other backend']);
    expect(historyId(c.body.experiment)).toBe(origin);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 2. Idempotency and conflicts
// ---------------------------------------------------------------------------------------------------------------

describe('every step again is harmless; other histories are refused with a reason', () => {
  it('begin again reopens, the same version again is a no-op, other content or a gap is refused', async () => {
    const { key, origin } = await receiving();
    const again = await begin(key, beginBody(origin));
    expect(again.status, again.text).toBe(200);
    expect(again.body.created).toBe(false);
    expect(again.body.experiment.push).toMatchObject({ origin, by: PUSHER, complete: false });

    const v1Files = files(key);
    await uploadBlobs(
      h,
      key,
      'model',
      v1Files.map((f) => f.data),
      as.pusher,
    );
    const v1 = await pushVersion(key, versionBody('model', 1, v1Files));
    expect(v1.status, v1.text).toBe(201);
    const same = await pushVersion(key, versionBody('model', 1, v1Files));
    expect(same.status, same.text).toBe(200);
    expect(same.body).toEqual({ version: v1.body.version, created: false });
    // The digest decides, not the stats or times sent along.
    const sameOther = await pushVersion(
      key,
      versionBody('model', 1, v1Files, { createdBy: 'someone-else', createdAt: '2030-01-01T00:00:00.000Z' }),
    );
    expect(sameOther.status, sameOther.text).toBe(200);
    expect(sameOther.body).toEqual({ version: v1.body.version, created: false });
    expect(await h.experiments.listVersions(TEAM, key, 'model')).toHaveLength(1);

    const before = await state();
    const other = files(`${key}-other`);
    await uploadBlobs(
      h,
      key,
      'model',
      other.map((f) => f.data),
      as.pusher,
    );
    const withUploads = await state();
    const diverged = await pushVersion(key, versionBody('model', 1, other));
    expectError(diverged, 409, 'E_CONFLICT');
    expect(reasonOf(diverged)).toBe('diverged');
    const gap = await pushVersion(key, versionBody('model', 3, other));
    expectError(gap, 409, 'E_CONFLICT');
    expect(detailsOf(gap)).toEqual({ reason: 'gap', latest: 1 });
    const gapNew = await pushVersion(key, versionBody('fresh', 2, other));
    expectError(gapNew, 409, 'E_CONFLICT');
    expect(detailsOf(gapNew)).toEqual({ reason: 'gap', latest: 0 });
    // Mutability is the artifact's: an immutable push of a mutable artifact's next version is refused.
    expectError(await pushVersion(key, versionBody('model', 2, other, { mutable: false })), 409, 'E_CONFLICT');
    expect(await state()).toEqual(withUploads);
    expect((before as { store: { db: { versions: unknown[] } } }).store.db.versions).toEqual(
      (withUploads as { store: { db: { versions: unknown[] } } }).store.db.versions,
    );

    // The next number is fine; then complete, and a later push of the same history reopens the completed one.
    const v2 = await pushVersion(key, versionBody('model', 2, other));
    expect(v2.status, v2.text).toBe(201);
    expect((await complete(key, completeBody())).status).toBe(200);
    const reopened = await begin(key, beginBody(origin, { host: 'second-box' }));
    expect(reopened.status, reopened.text).toBe(200);
    expect(reopened.body.created).toBe(false);
    expect(reopened.body.experiment.push).toMatchObject({ origin, host: 'second-box', complete: false });
    const v2Again = await pushVersion(key, versionBody('model', 2, other));
    expect(v2Again.status, v2Again.text).toBe(200);
    expect(v2Again.body.created).toBe(false);
    expect((await complete(key, completeBody(sourceRecord(), { versionsCreated: 0 }))).status).toBe(200);
    // One audit entry per completed push.
    expect((await pushAudit(key)).map((e) => [e.details.host, e.details.versionsCreated])).toEqual([
      ['pusher-box', 1],
      ['second-box', 0],
    ]);
  });

  it('begin with another origin on an existing key: E_CONFLICT reason history, nothing changed', async () => {
    const done = await pushed();
    const open = await receiving();
    const made = uniqueKey('made-here');
    await createExperiment(h, made, {}, as.pusher);
    await h.call('POST', route.finish(made), { ...as.pusher, body: { status: 'finished', exitCode: 0 } });
    for (const key of [done.key, open.key, made]) {
      const before = await state();
      const res = await begin(key, beginBody(newOrigin()));
      expectError(res, 409, 'E_CONFLICT');
      expect(reasonOf(res)).toBe('history');
      expect(await state()).toEqual(before);
    }
  });

  it('begin on a running or queued experiment of the same history: E_CONFLICT, nothing changed', async () => {
    for (const queued of [false, true]) {
      const key = uniqueKey(queued ? 'queued' : 'running');
      const made = await createExperiment(h, key, { queued }, as.pusher);
      const origin = historyId(made.experiment);
      const before = await state();
      const res = await begin(key, beginBody(origin, { record: sourceRecord({ owner: PUSHER }) }));
      expectError(res, 409, 'E_CONFLICT');
      expect(reasonOf(res)).toBeUndefined();
      expect(await state()).toEqual(before);
      expect((await h.experiments.getExperiment(TEAM, key))?.push).toBeUndefined();
    }
  });

  it('versions and complete need an experiment that is receiving a push', async () => {
    const data = files('not-receiving');
    // Not there at all.
    const missing = uniqueKey('absent');
    expectError(await pushVersion(missing, versionBody('model', 1, data)), 404, 'E_NOT_FOUND');
    expectError(await complete(missing, completeBody()), 404, 'E_NOT_FOUND');
    // Made here and ended, never pushed: its artifacts cannot change through a push either.
    const key = uniqueKey('ended');
    await createExperiment(h, key, {}, as.pusher);
    await uploadBlobs(
      h,
      key,
      'model',
      data.map((f) => f.data),
      as.pusher,
    );
    await h.call('POST', route.finish(key), { ...as.pusher, body: { status: 'finished', exitCode: 0 } });
    const before = await state();
    expectError(await pushVersion(key, versionBody('model', 1, data)), 409, 'E_CONFLICT');
    expectError(await complete(key, completeBody(sourceRecord({ owner: PUSHER }))), 409, 'E_CONFLICT');
    expect(await state()).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 3. Lineage
// ---------------------------------------------------------------------------------------------------------------

describe('lineage must name versions this team has', () => {
  it('begin naming a version the team lacks: E_CONFLICT reason lineage, nothing stored', async () => {
    const src = await localVersion();
    for (const lineage of [
      [{ as: 'w', experiment: uniqueKey('nowhere'), tag: 'w', version: 1 }],
      [{ as: 'w', experiment: src.key, tag: 'w', version: 2 }],
      [{ as: 'w', experiment: src.key, tag: 'other', version: 1 }],
      [
        { as: 'ok', experiment: src.key, tag: 'w', version: 1 },
        { as: 'w', experiment: src.key, tag: 'w', version: 9 },
      ],
    ]) {
      const key = uniqueKey('lineage');
      const before = await state();
      const res = await begin(key, beginBody(newOrigin(), { record: sourceRecord({ lineage }) }));
      expectError(res, 409, 'E_CONFLICT');
      const details = detailsOf(res);
      expect(details?.reason).toBe('lineage');
      const l = lineage[lineage.length - 1] as (typeof lineage)[number];
      expect(details?.missing).toEqual([`${l.experiment}/${l.tag}@${l.version}`]);
      expect(await h.experiments.getExperiment(TEAM, key)).toBeNull();
      expect(await state()).toEqual(before);
    }
    // A lineage the team has is kept as sent.
    const lineage = [{ as: 'w', experiment: src.key, tag: 'w', version: 1 }];
    const key = uniqueKey('lineage-ok');
    const ok = await begin(key, beginBody(newOrigin(), { record: sourceRecord({ lineage }) }));
    expect(ok.status, ok.text).toBe(201);
    expect(ok.body.experiment.lineage).toEqual(lineage);
  });

  it('complete naming a version the team lacks: E_CONFLICT reason lineage, the push stays open and unaudited', async () => {
    const { key } = await receiving();
    const before = await state();
    const lineage = [{ as: 'w', experiment: uniqueKey('nowhere'), tag: 'w', version: 1 }];
    const res = await complete(key, completeBody(sourceRecord({ lineage })));
    expectError(res, 409, 'E_CONFLICT');
    expect(reasonOf(res)).toBe('lineage');
    expect(await state()).toEqual(before);
    expect((await h.experiments.getExperiment(TEAM, key))?.push?.complete).toBe(false);
    expect(await pushAudit(key)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 4. Hostile bodies
// ---------------------------------------------------------------------------------------------------------------

describe('hostile bodies: a stable code, nothing stored', () => {
  const rec = (over: Record<string, unknown>) => ({ ...sourceRecord(), ...over });
  const attempt0 = () => (sourceRecord().attempts as object[])[0] as object;
  const cases: [string, (o: string) => unknown, number, string][] = [
    ['an empty body', () => ({}), 400, 'E_BAD_REQUEST'],
    ['an array', () => [], 400, 'E_BAD_REQUEST'],
    ['origin not hex', () => beginBody('z'.repeat(64)), 400, 'E_BAD_REQUEST'],
    ['origin upper-case', (o) => beginBody(o.toUpperCase()), 400, 'E_BAD_REQUEST'],
    ['origin too short', (o) => beginBody(o.slice(1)), 400, 'E_BAD_REQUEST'],
    ['origin a number', () => ({ ...beginBody(''), origin: 42 }), 400, 'E_BAD_REQUEST'],
    ['from empty', (o) => beginBody(o, { from: '' }), 400, 'E_BAD_REQUEST'],
    ['no record', (o) => ({ origin: o, from: 'local' }), 400, 'E_BAD_REQUEST'],
    ['status running', (o) => ({ ...beginBody(o), record: rec({ status: 'running' }) }), 400, 'E_BAD_REQUEST'],
    ['status queued', (o) => ({ ...beginBody(o), record: rec({ status: 'queued' }) }), 400, 'E_BAD_REQUEST'],
    ['status made up', (o) => ({ ...beginBody(o), record: rec({ status: 'done' }) }), 400, 'E_BAD_REQUEST'],
    [
      'createdAt not a time',
      (o) => ({ ...beginBody(o), record: rec({ createdAt: 'yesterday' }) }),
      400,
      'E_BAD_REQUEST',
    ],
    ['attempt a string', (o) => ({ ...beginBody(o), record: rec({ attempt: '2' }) }), 400, 'E_BAD_REQUEST'],
    ['exitCode fractional', (o) => ({ ...beginBody(o), record: rec({ exitCode: 0.5 }) }), 400, 'E_BAD_REQUEST'],
    ['command not strings', (o) => ({ ...beginBody(o), record: rec({ command: [1, 2] }) }), 400, 'E_BAD_REQUEST'],
    ['owner missing', (o) => ({ ...beginBody(o), record: rec({ owner: undefined }) }), 400, 'E_BAD_REQUEST'],
    [
      'lineage version 0',
      (o) => ({
        ...beginBody(o),
        record: rec({ lineage: [{ as: 'w', experiment: 'x', tag: 'w', version: 0 }] }),
      }),
      400,
      'E_BAD_REQUEST',
    ],
    // strictObject: no field the server sets itself can be smuggled in, at any level.
    [
      'a push marker in the record',
      (o) => ({
        ...beginBody(o),
        record: rec({
          push: { origin: o, from: 'x', by: 'local', host: null, at: '2024-01-01T00:00:00Z', complete: true },
        }),
      }),
      400,
      'E_BAD_REQUEST',
    ],
    ['a team in the record', (o) => ({ ...beginBody(o), record: rec({ team: OTHER_TEAM }) }), 400, 'E_BAD_REQUEST'],
    [
      'a lease in the record',
      (o) => ({
        ...beginBody(o),
        record: rec({ leaseExpiresAt: '2999-01-01T00:00:00Z' }),
      }),
      400,
      'E_BAD_REQUEST',
    ],
    ['an extra top-level field', (o) => ({ ...beginBody(o), by: 'local' }), 400, 'E_BAD_REQUEST'],
    [
      'an extra lineage field',
      (o) => ({
        ...beginBody(o),
        record: rec({ lineage: [{ as: 'w', experiment: 'x', tag: 'w', version: 1, team: OTHER_TEAM }] }),
      }),
      400,
      'E_BAD_REQUEST',
    ],
    [
      'an extra attempt field',
      (o) => ({
        ...beginBody(o),
        record: rec({ attempts: [{ ...attempt0(), leaseExpiresAt: null }] }),
      }),
      400,
      'E_BAD_REQUEST',
    ],
    [
      '5,000 command words',
      (o) => ({ ...beginBody(o), record: rec({ command: Array(5000).fill('x') }) }),
      413,
      'E_TOO_LARGE',
    ],
    [
      '300 KB of command',
      (o) => ({
        ...beginBody(o),
        record: rec({ command: Array(5).fill('y'.repeat(60_000)) }),
      }),
      413,
      'E_TOO_LARGE',
    ],
    [
      'an attempt with 300 KB of command',
      (o) => ({
        ...beginBody(o),
        record: rec({ attempts: [{ ...attempt0(), command: Array(5).fill('y'.repeat(60_000)) }] }),
      }),
      413,
      'E_TOO_LARGE',
    ],
    [
      '1,001 attempts',
      (o) => ({ ...beginBody(o), record: rec({ attempts: Array(1001).fill(attempt0()) }) }),
      413,
      'E_TOO_LARGE',
    ],
    [
      '257 lineage entries',
      (o) => ({
        ...beginBody(o),
        record: rec({ lineage: Array(257).fill({ as: 'w', experiment: 'x', tag: 'w', version: 1 }) }),
      }),
      413,
      'E_TOO_LARGE',
    ],
    [
      '2 MB of warnings',
      (o) => ({
        ...beginBody(o),
        record: rec({ warnings: Array(600).fill('w'.repeat(4000)) }),
      }),
      413,
      'E_TOO_LARGE',
    ],
    [
      'a cwd of 5,000 characters',
      (o) => ({ ...beginBody(o), record: rec({ cwd: 'c'.repeat(5000) }) }),
      413,
      'E_TOO_LARGE',
    ],
  ];

  it.each(cases)('begin with %s -> %s %s', async (_name, body, status, code) => {
    const key = uniqueKey('hostile');
    const before = await state();
    expectError(await begin(key, body(newOrigin())), status, code as never);
    expect(await h.experiments.getExperiment(TEAM, key)).toBeNull();
    expect(await state()).toEqual(before);
  });

  it('begin with a body that is not JSON, or over 8 MiB, or under a bad key', async () => {
    const before = await state();
    const key = uniqueKey('hostile');
    expectError(await h.call('PUT', pushRoute.begin(key), { ...as.pusher, raw: '{"origin":' }), 400, 'E_BAD_JSON');
    expectError(
      await h.call('PUT', pushRoute.begin(key), { ...as.pusher, raw: `{"origin":"${'a'.repeat(9 << 20)}"}` }),
      413,
      'E_TOO_LARGE',
    );
    for (const bad of ['../../etc', 'a..b', '.hidden', 'a b', 'x'.repeat(200)]) {
      expectError(await begin(bad, beginBody(newOrigin())), 400, 'E_BAD_KEY');
    }
    expect(await h.experiments.getExperiment(TEAM, key)).toBeNull();
    expect(await state()).toEqual(before);
  });

  it('versions: bad paths, bad manifests, bad fields, blobs never uploaded; nothing stored', async () => {
    const { key } = await receiving();
    const good = files(key);
    await uploadBlobs(
      h,
      key,
      'model',
      good.map((f) => f.data),
      as.pusher,
    );
    const entry = manifestOf(good).files[0] as object;
    const withFiles = (fs: object[]) => versionBody('model', 1, good, { manifest: { files: fs, links: [] } });
    const before = await state();
    const never = text(`never uploaded ${key}\n`);
    const bodies: [string, unknown, number, string][] = [
      ['a parent path', withFiles([{ ...entry, path: '../evil' }]), 400, 'E_BAD_PATH'],
      ['a nested escape', withFiles([{ ...entry, path: 'a/../../evil' }]), 400, 'E_BAD_PATH'],
      ['an absolute path', withFiles([{ ...entry, path: '/etc/passwd' }]), 400, 'E_BAD_PATH'],
      ['a backslash path', withFiles([{ ...entry, path: '..\\evil' }]), 400, 'E_BAD_PATH'],
      ['a NUL in a path', withFiles([{ ...entry, path: 'a\u0000b' }]), 400, 'E_BAD_PATH'],
      ['a duplicate path', withFiles([entry, entry]), 400, 'E_BAD_PATH'],
      ['a bad sha256', withFiles([{ ...entry, sha256: 'x'.repeat(64) }]), 400, 'E_BAD_MANIFEST'],
      ['a manifest that is a string', versionBody('model', 1, good, { manifest: 'files' }), 400, 'E_BAD_MANIFEST'],
      ['a blob over the maximum size', withFiles([{ ...entry, size: 2 ** 50 }]), 413, 'E_TOO_LARGE'],
      ['version 0', versionBody('model', 0, good), 400, 'E_BAD_REQUEST'],
      ['version 1.5', versionBody('model', 1.5, good), 400, 'E_BAD_REQUEST'],
      ['version "1"', { ...versionBody('model', 1, good), version: '1' }, 400, 'E_BAD_REQUEST'],
      ['createdAt not a time', versionBody('model', 1, good, { createdAt: 'now' }), 400, 'E_BAD_REQUEST'],
      ['createdBy empty', versionBody('model', 1, good, { createdBy: '' }), 400, 'E_BAD_REQUEST'],
      ['mutable a string', { ...versionBody('model', 1, good), mutable: 'yes' }, 400, 'E_BAD_REQUEST'],
      ['an extra field', { ...versionBody('model', 1, good), digest: 'a'.repeat(64) }, 400, 'E_BAD_REQUEST'],
      ['no createdBy', { ...versionBody('model', 1, good), createdBy: undefined }, 400, 'E_BAD_REQUEST'],
      ['a reserved tag', versionBody('mapping', 1, good), 400, 'E_BAD_TAG'],
      ['a tag with a slash', versionBody('../x', 1, good), 400, 'E_BAD_TAG'],
      [
        '2 MB of skipped',
        versionBody('model', 1, good, {
          stats: { ...STATS, skipped: Array(600).fill('s'.repeat(4000)) },
        }),
        413,
        'E_TOO_LARGE',
      ],
    ];
    for (const [name, body, status, code] of bodies) {
      const res = await pushVersion(key, body);
      expect(`${name}: ${res.status} ${(res.body as unknown as ErrorBody)?.error?.code}`).toBe(
        `${name}: ${status} ${code}`,
      );
      expectError(res, status, code as never);
    }
    const blobMissing = await pushVersion(key, versionBody('model', 1, [...good, { path: 'never.txt', data: never }]));
    expectError(blobMissing, 409, 'E_BLOB_MISSING');
    expect(detailsOf(blobMissing)?.missing).toEqual([sha256(never)]);
    expect(await state()).toEqual(before);
    expect(await h.experiments.listArtifacts(TEAM, key)).toEqual([]);
    // The body that was refused only for its one bad field works.
    expect((await pushVersion(key, versionBody('model', 1, good))).status).toBe(201);
  });

  it('complete: bad records and counts are refused; the push stays open and unaudited', async () => {
    const { key } = await receiving();
    const before = await state();
    const bodies: [unknown, number, string][] = [
      [{}, 400, 'E_BAD_REQUEST'],
      [completeBody(rec({ status: 'running' }) as PushedRecord), 400, 'E_BAD_REQUEST'],
      [completeBody(sourceRecord(), { versionsCreated: -1 }), 400, 'E_BAD_REQUEST'],
      [completeBody(sourceRecord(), { uploadedBytes: 1.5 }), 400, 'E_BAD_REQUEST'],
      [{ ...completeBody(), uploadedBlobs: undefined }, 400, 'E_BAD_REQUEST'],
      [{ ...completeBody(), push: { complete: true } }, 400, 'E_BAD_REQUEST'],
      [completeBody(rec({ owner: 'local', team: OTHER_TEAM }) as PushedRecord), 400, 'E_BAD_REQUEST'],
      [completeBody(rec({ command: Array(5000).fill('x') }) as PushedRecord), 413, 'E_TOO_LARGE'],
    ];
    for (const [body, status, code] of bodies) expectError(await complete(key, body), status, code as never);
    expect(await state()).toEqual(before);
    expect((await h.experiments.getExperiment(TEAM, key))?.push?.complete).toBe(false);
    expect(await pushAudit(key)).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 5. Authorization
// ---------------------------------------------------------------------------------------------------------------

describe('who may push', () => {
  type Who = keyof typeof as | 'none' | 'job';
  const REFUSED: [Who, number, string][] = [
    ['none', 401, 'E_UNAUTHENTICATED'],
    ['expired', 401, 'E_TOKEN_EXPIRED'],
    ['viewer', 403, 'E_FORBIDDEN'],
    ['readOnly', 403, 'E_FORBIDDEN'],
    ['otherTeam', 403, 'E_FORBIDDEN'],
    ['removed', 403, 'E_FORBIDDEN'],
    ['worker', 403, 'E_FORBIDDEN'],
    ['job', 403, 'E_FORBIDDEN'],
  ];
  let job: CallOptions;
  let jobKey: string;
  beforeAll(async () => {
    jobKey = uniqueKey('job-exp');
    job = { token: await leaseJobToken(h, jobKey, as.pusher) };
  });
  const opts = (who: Who): CallOptions => (who === 'none' ? { token: null } : who === 'job' ? job : as[who]);

  it.each(REFUSED)('PUT …/push as %s -> %s %s, nothing stored', async (who, status, code) => {
    const key = uniqueKey('authz-begin');
    const before = await state();
    expectError(await begin(key, beginBody(newOrigin()), opts(who)), status, code as never);
    expect(await h.experiments.getExperiment(TEAM, key)).toBeNull();
    expect(await h.experiments.getExperiment(OTHER_TEAM, key)).toBeNull();
    expect(await state()).toEqual(before);
  });

  it('a job token cannot push over its own experiment either', async () => {
    const before = await state();
    const made = await h.experiments.getExperiment(TEAM, jobKey);
    expectError(await begin(jobKey, beginBody(historyId(made as ExperimentRecord)), job), 403, 'E_FORBIDDEN');
    expect(await state()).toEqual(before);
  });

  it.each(REFUSED)(
    'POST …/push/versions and …/push/complete as %s -> %s %s, nothing stored',
    async (who, status, code) => {
      const { key } = await receiving();
      const data = files(key);
      await uploadBlobs(
        h,
        key,
        'model',
        data.map((f) => f.data),
        as.pusher,
      );
      const before = await state();
      expectError(await pushVersion(key, versionBody('model', 1, data), opts(who)), status, code as never);
      expectError(await complete(key, completeBody(), opts(who)), status, code as never);
      expect(await state()).toEqual(before);
      // The same requests from the pusher succeed: only the credential was wrong.
      expect((await pushVersion(key, versionBody('model', 1, data))).status).toBe(201);
      expect((await complete(key, completeBody())).status).toBe(200);
    },
  );

  it('a member of another team without x-studio-team pushes into its own team only', async () => {
    const key = uniqueKey('own-team');
    const res = await begin(key, beginBody(newOrigin()), { token: as.otherTeam.token as string });
    expect(res.status, res.text).toBe(201);
    expect(res.body.experiment.team).toBe(OTHER_TEAM);
    expect(await h.experiments.getExperiment(TEAM, key)).toBeNull();
    // And cannot continue a push of team local's experiment from there: it does not exist in its team.
    const { key: local } = await receiving();
    const before = await state();
    const data = files(local);
    expectError(
      await pushVersion(local, versionBody('model', 1, data), { token: as.otherTeam.token as string }),
      404,
      'E_NOT_FOUND',
    );
    expect(await state()).toEqual(before);
  });
});

// ---------------------------------------------------------------------------------------------------------------
// 6. Deleting, and pushing over, someone's pushed experiment
// ---------------------------------------------------------------------------------------------------------------

describe('the pusher is answerable for a pushed experiment', () => {
  it('the pusher (not its owner) may delete it; another editor or a viewer may not', async () => {
    const { key } = await pushed();
    const rec = (await h.experiments.getExperiment(TEAM, key)) as ExperimentRecord;
    expect(rec.owner).toBe('alice-src');
    expect(rec.push?.by).toBe(PUSHER);
    const before = await state();
    expectError(await h.call('DELETE', teamRoute.experiment(key), as.editor2), 403, 'E_FORBIDDEN');
    expectError(await h.call('DELETE', teamRoute.experiment(key), as.viewer), 403, 'E_FORBIDDEN');
    expect(await state()).toEqual(before);
    const del = await h.call<{ deleted: { key: string } }>('DELETE', teamRoute.experiment(key), as.pusher);
    expect(del.status, del.text).toBe(200);
    expect(del.body.deleted).toMatchObject({ key, status: 'finished', artifacts: 1, versions: 1 });
    expect(await h.experiments.getExperiment(TEAM, key)).toBeNull();
    const [entry] = (await auditOf(h, TEAM)).filter((e) => e.action === 'experiment.delete' && e.target === key);
    expect(entry).toMatchObject({ actor: { userId: PUSHER }, details: { owner: 'alice-src' } });
  });

  it('an interrupted push (still receiving) is deleted by its pusher', async () => {
    const { key } = await receiving();
    expectError(await h.call('DELETE', teamRoute.experiment(key), as.editor2), 403, 'E_FORBIDDEN');
    expect((await h.call('DELETE', teamRoute.experiment(key), as.pusher)).status).toBe(200);
    expect(await h.experiments.getExperiment(TEAM, key)).toBeNull();
  });

  it('another editor cannot take a pushed experiment over by pushing it again (and then delete it)', async () => {
    const { key, origin } = await pushed();
    const before = await state();
    // The origin is no secret (any viewer computes historyId from the record): knowing it grants nothing.
    expectError(
      await begin(key, beginBody(origin, { record: sourceRecord({ owner: EDITOR2 }) }), as.editor2),
      403,
      'E_FORBIDDEN',
    );
    expect(await state()).toEqual(before);
    expect((await h.experiments.getExperiment(TEAM, key))?.push).toMatchObject({ by: PUSHER, complete: true });
    expectError(await h.call('DELETE', teamRoute.experiment(key), as.editor2), 403, 'E_FORBIDDEN');
    expect(await state()).toEqual(before);
  });

  it("another editor cannot push into, or complete, someone else's open push", async () => {
    const { key } = await receiving();
    const data = files(key);
    await uploadBlobs(
      h,
      key,
      'model',
      data.map((f) => f.data),
      as.pusher,
    );
    const before = await state();
    expectError(await pushVersion(key, versionBody('model', 1, data), as.editor2), 403, 'E_FORBIDDEN');
    expectError(await complete(key, completeBody(sourceRecord({ owner: EDITOR2 })), as.editor2), 403, 'E_FORBIDDEN');
    expect(await state()).toEqual(before);
  });

  it("another editor cannot upload into someone else's open push, and nobody commits into it but through push/versions", async () => {
    const { key } = await receiving();
    const data = files(key);
    const blobs = data.map((f) => ({ sha256: sha256(f.data), size: f.data.length }));
    const before = await state();
    expectError(
      await h.call('POST', route.uploads(key, 'model'), { ...as.editor2, body: { blobs } }),
      403,
      'E_FORBIDDEN',
    );
    expect(await state()).toEqual(before);
    await uploadBlobs(
      h,
      key,
      'model',
      data.map((f) => f.data),
      as.pusher,
    );
    const body = { mutable: true, manifest: manifestOf(data), stats: STATS };
    const mid = await state();
    expectError(await h.call('POST', route.versions(key, 'model'), { ...as.pusher, body }), 409, 'E_CONFLICT');
    expectError(await h.call('POST', route.versions(key, 'model'), { ...as.editor2, body }), 409, 'E_CONFLICT');
    expect(await state()).toEqual(mid);
  });

  it("nor over another editor's experiment made here (ended): only its owner or an admin push over it", async () => {
    const key = uniqueKey('someone-elses');
    const made = await createExperiment(h, key, {}, as.pusher);
    await h.call('POST', route.finish(key), { ...as.pusher, body: { status: 'finished', exitCode: 0 } });
    const origin = historyId(made.experiment);
    const before = await state();
    expectError(await begin(key, beginBody(origin), as.editor2), 403, 'E_FORBIDDEN');
    expect(await state()).toEqual(before);
    // Its owner may.
    const own = await begin(key, beginBody(origin, { record: sourceRecord({ owner: PUSHER }) }), as.pusher);
    expect(own.status, own.text).toBe(200);
  });

  it("a team admin may push over anyone's pushed experiment, and then answers for it", async () => {
    const { key, origin } = await pushed();
    const res = await begin(key, beginBody(origin), {}); // the local admin
    expect(res.status, res.text).toBe(200);
    expect(res.body.experiment.push).toMatchObject({ by: 'local', complete: false });
    expect((await complete(key, completeBody(), {})).status).toBe(200);
    // The earlier pusher no longer answers for it.
    expectError(await h.call('DELETE', teamRoute.experiment(key), as.pusher), 403, 'E_FORBIDDEN');
  });

  it("the owner a pushed record names is the source's claim: it grants no push over it, nor a delete", async () => {
    // Pushed by one editor naming the other as the record's owner (anyone's id can be claimed in a pushed record).
    const { key, origin } = await receiving(as.pusher, sourceRecord({ owner: EDITOR2 }));
    const before = await state();
    const record = sourceRecord({ owner: EDITOR2 });
    expectError(await begin(key, beginBody(origin, { record }), as.editor2), 403, 'E_FORBIDDEN');
    expectError(await complete(key, completeBody(record), as.editor2), 403, 'E_FORBIDDEN');
    expectError(await h.call('DELETE', teamRoute.experiment(key), as.editor2), 403, 'E_FORBIDDEN');
    expect(await state()).toEqual(before);
    // Its pusher continues it.
    expect((await complete(key, completeBody(record))).status).toBe(200);
  });
});
