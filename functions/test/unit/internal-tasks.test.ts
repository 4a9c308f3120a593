import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCloudTasksQueue } from '../../src/adapters/gcp/cloud-tasks-queue.ts';
import { createOidcVerifier } from '../../src/adapters/gcp/internal-auth.ts';
import { createLocalTaskQueue } from '../../src/adapters/local/local-task-queue.ts';
import { openSqliteDb } from '../../src/adapters/local/sqlite-db.ts';
import { createInternalHandler } from '../../src/api/internal-handler.ts';
import { verifyBlobTask } from '../../src/core/internal-tasks.ts';
import { runTask, TASK_KINDS } from '../../src/core/task-kinds.ts';
import { type LocalBackend, openLocalBackend } from '../../src/hosts/local-server/local-backend.ts';
import { blobKey, bytes, sha256, sleep, uid } from '../conformance/fixtures.ts';
import { type FakeCloudTasks, startFakeCloudTasks } from '../support/fake-cloud-tasks.ts';
import { serveWeb } from '../support/serve-web.ts';

const SA = 'tasks@demo-studio-lite.iam.gserviceaccount.com';
const LOC = { project: 'demo-studio-lite', location: 'us-central1', queue: 'studio-jobs' };

async function waitFor(what: string, cond: () => Promise<boolean>, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

describe('verify-blob internal task', () => {
  let home: string;
  let backend: LocalBackend;
  let fake: FakeCloudTasks;
  let api: { url: string; close(): Promise<void> };
  let handler: (req: Request) => Promise<Response>;

  /** Stores `data` under the key of `claimed` (its own sha256 unless a lie is wanted). */
  async function stored(data: Uint8Array, claimed = sha256(data)) {
    const team = uid('team');
    await backend.deps.blobs.put(blobKey(team, claimed), data, 'application/octet-stream');
    return { team, sha256: claimed, size: data.length };
  }
  const recorded = async (b: { team: string; sha256: string }) =>
    (await backend.deps.blobIndex.findBlobs(b.team, [b.sha256])).get(b.sha256) ?? null;
  const post = async (body: unknown, authorization?: string, path = '/internal/tasks/verify-blob') =>
    handler(
      new Request(`${api.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
        body: typeof body === 'string' ? body : JSON.stringify(body),
      }),
    );
  const token = async (email = SA) => `Bearer ${await fake.issuer.sign(email, api.url)}`;

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'sl-itasks-'));
    backend = openLocalBackend(home, { publicUrl: () => 'http://127.0.0.1:1' });
    fake = await startFakeCloudTasks({ maxAttempts: 3, minBackoffMs: 20, maxBackoffMs: 40 });
    // The API host: the internal handler behind the OIDC verifier (audience = its own URL, keys from the fake).
    api = await serveWeb((req) => handler(req));
    const verifier = createOidcVerifier({ jwksUrl: fake.jwksUrl, audience: api.url, allowedEmail: SA });
    handler = createInternalHandler(backend.deps, verifier);
  });
  afterAll(async () => {
    await api.close();
    await fake.close();
    backend.close();
    await rm(home, { recursive: true, force: true });
  });

  it('marks matching bytes verified', async () => {
    const b = await stored(bytes(3000, 1));
    const res = await post(b, await token());
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ outcome: 'verified' });
    expect(await recorded(b)).toEqual({ sha256: b.sha256, size: 3000, verified: true });
  });

  it('deletes bytes that do not match their sha256, and reports a missing blob', async () => {
    const b = await stored(bytes(100, 2), sha256('something else'));
    expect(await (await post(b, await token())).json()).toEqual({ outcome: 'corrupt' });
    expect(await backend.deps.blobs.stat(blobKey(b.team, b.sha256))).toBeNull();
    expect(await recorded(b)).toBeNull();
    expect(await (await post(b, await token())).json()).toEqual({ outcome: 'missing' });
  });

  it('refuses unauthenticated or foreign callers before touching anything', async () => {
    const b = await stored(bytes(10, 3), sha256('lie'));
    const noToken = await post(b);
    expect(noToken.status).toBe(401);
    expect(await noToken.json()).toMatchObject({ error: { code: 'E_UNAUTHENTICATED' } });
    const foreign = await post(b, await token('intruder@evil.iam.gserviceaccount.com'));
    expect(foreign.status).toBe(403);
    expect(await foreign.json()).toMatchObject({ error: { code: 'E_FORBIDDEN' } });
    expect((await (await post({}, undefined, '/internal/tasks/nope')).json()).error.code).toBe('E_UNAUTHENTICATED');
    expect(await backend.deps.blobs.stat(blobKey(b.team, b.sha256))).toMatchObject({ size: 10 });
  });

  it('answers bad bodies and unknown routes with the public error table', async () => {
    const t = await token();
    const cases: [unknown, string, number, string?][] = [
      ['{nope', 'E_BAD_JSON', 400],
      [{ team: 'a', sha256: 'xyz', size: 1 }, 'E_BAD_REQUEST', 400],
      [{ team: '../a', sha256: sha256('a'), size: 1 }, 'E_BAD_REQUEST', 400],
      [{ team: 'a', sha256: sha256('a'), size: -1 }, 'E_BAD_REQUEST', 400],
      [{ team: 'a', sha256: sha256('a'), size: 1, extra: true }, 'E_BAD_REQUEST', 400],
      [{}, 'E_NOT_FOUND', 404, '/internal/tasks/nope'],
    ];
    for (const [body, code, status, path] of cases) {
      const res = await post(body, t, path);
      expect(res.status, JSON.stringify(body)).toBe(status);
      expect((await res.json()).error.code).toBe(code);
    }
  });

  it('every task kind has its internal route; the in-process dispatch refuses an unknown kind', async () => {
    const t = await token();
    expect([...TASK_KINDS].sort()).toEqual(['job-deadline', 'lease-check', 'retention', 'verify-blob']);
    for (const kind of TASK_KINDS) {
      // An invalid payload reaches the kind's validation (400), not the router's 404 ({} is valid for retention).
      const bad = kind === 'retention' ? { team: 5 } : {};
      const res = await post(bad, t, `/internal/tasks/${kind}`);
      expect(res.status, kind).toBe(400);
      expect((await res.json()).error.code).toBe('E_BAD_REQUEST');
      await expect(runTask(backend.deps, kind, bad)).rejects.toMatchObject({ code: 'E_BAD_REQUEST' });
    }
    // What Cloud Scheduler sends (terraform scheduler.tf): `{}` to /internal/tasks/retention.
    const res = await post({}, t, '/internal/tasks/retention');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ outcome: 'applied', teams: 0, versionsDeleted: 0 });
    await expect(runTask(backend.deps, 'nope', {})).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(runTask(backend.deps, 'constructor', {})).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('end to end: Cloud Tasks adapter -> fake dispatch with OIDC -> internal handler -> SQLite + disk', async () => {
    const queue = createCloudTasksQueue({
      ...LOC,
      targetBaseUrl: api.url,
      serviceAccountEmail: SA,
      apiEndpoint: fake.url,
    });
    const good = await stored(bytes(50_000, 4));
    const bad = await stored(bytes(64, 5), sha256('not these bytes'));
    expect(await queue.enqueue(verifyBlobTask(good))).toEqual({ created: true });
    expect(await queue.enqueue(verifyBlobTask(good))).toEqual({ created: false });
    expect(await queue.enqueue(verifyBlobTask(bad, new Date(Date.now() + 200)))).toEqual({ created: true });
    await waitFor('verified', async () => (await recorded(good))?.verified === true);
    await waitFor(
      'corrupt blob removed',
      async () => (await backend.deps.blobs.stat(blobKey(bad.team, bad.sha256))) === null,
    );
    const tasks = [...fake.tasks.values()];
    expect(tasks.map((t) => t.attempts.map((a) => a.status))).toEqual([[200], [200]]);
    expect(fake.invalid).toEqual([]);
  });

  it('end to end: a queue using another service account is refused and never verifies', async () => {
    const queue = createCloudTasksQueue({
      ...LOC,
      queue: 'other',
      targetBaseUrl: api.url,
      serviceAccountEmail: 'intruder@demo-studio-lite.iam.gserviceaccount.com',
      apiEndpoint: fake.url,
    });
    const b = await stored(bytes(20, 6));
    await queue.enqueue(verifyBlobTask(b));
    const task = () => [...fake.tasks.values()].find((t) => t.queue === 'other');
    await waitFor('retries exhausted', async () => task()?.state === 'failed');
    expect(task()?.attempts.map((a) => a.status)).toEqual([403, 403, 403]);
    expect(await recorded(b)).toBeNull();
  });

  it('local mode: the SQLite queue dispatches verify-blob in-process', async () => {
    const db = openSqliteDb(join(home, 'tasks.db'));
    const queue = createLocalTaskQueue({
      db,
      dispatch: async (kind, payload) => void (await runTask(backend.deps, kind, payload)),
      minBackoffMs: 20,
    });
    try {
      const b = await stored(bytes(777, 7));
      expect(await queue.enqueue(verifyBlobTask(b))).toEqual({ created: true });
      await waitFor('verified', async () => (await recorded(b))?.verified === true);
    } finally {
      await queue.close();
      db.close();
    }
  });
});
