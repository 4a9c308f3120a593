import { createServer } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createCloudTasksQueue } from '../../src/adapters/gcp/cloud-tasks-queue.ts';
import { createOidcVerifier } from '../../src/adapters/gcp/internal-auth.ts';
import { expectCode, sleep, uid } from '../conformance/fixtures.ts';
import { type TaskTarget, testTaskQueue } from '../conformance/task-queue-suite.ts';
import { type FakeCloudTasks, startFakeCloudTasks } from '../support/fake-cloud-tasks.ts';
import { serveWeb } from '../support/serve-web.ts';

const SA = 'tasks@demo-studio-lite.iam.gserviceaccount.com';
const LOC = { project: 'demo-studio-lite', location: 'us-central1', queue: 'studio-jobs' };
const KIND = 'test';

interface Rig {
  fake: FakeCloudTasks;
  targetUrl: string;
  queue: ReturnType<typeof createCloudTasksQueue>;
  /** Headers of every request the target received. */
  seen: Headers[];
  close(): Promise<void>;
}

/** The fake Cloud Tasks plus a target that, like the internal handler, accepts only the task account's OIDC token. */
async function rig(target: TaskTarget = async () => {}): Promise<Rig> {
  const fake = await startFakeCloudTasks();
  const seen: Headers[] = [];
  let verify: ReturnType<typeof createOidcVerifier> | undefined;
  const server = await serveWeb(async (req) => {
    seen.push(req.headers);
    try {
      await verify?.verify(req.headers.get('authorization'));
      if (!req.headers.get('x-cloudtasks-taskname')) throw new Error('no task name header');
      if (req.headers.get('content-type') !== 'application/json') throw new Error('not json');
      const kind = /^\/internal\/tasks\/([a-z0-9-]+)$/.exec(new URL(req.url).pathname)?.[1];
      if (!kind) throw new Error(`not an internal task route: ${req.url}`);
      await target(kind, await req.json());
      return new Response('ok');
    } catch {
      return new Response('no', { status: 500 });
    }
  });
  verify = createOidcVerifier({ jwksUrl: fake.jwksUrl, audience: server.url, allowedEmail: SA });
  const queue = createCloudTasksQueue({
    ...LOC,
    targetBaseUrl: server.url,
    serviceAccountEmail: SA,
    apiEndpoint: fake.url,
  });
  return {
    fake,
    targetUrl: server.url,
    queue,
    seen,
    async close() {
      await fake.close();
      await server.close();
    },
  };
}

// The fake validates each create call against the v2 REST schema, then dispatches like Cloud Tasks (see the support file).
testTaskQueue({
  name: 'Cloud Tasks (REST) against a local fake',
  async make(target) {
    const r = await rig(target);
    return {
      queue: r.queue,
      async cleanup() {
        await r.close();
        expect(r.fake.invalid).toEqual([]);
      },
    };
  },
});

describe('Cloud Tasks adapter extras', () => {
  let r: Rig;
  afterEach(async () => {
    await r?.close();
  });

  it('creates a named HTTP task with scheduleTime, JSON body and an OIDC token for the target', async () => {
    r = await rig();
    const name = uid('t');
    const scheduleTime = new Date(Date.now() + 200_123);
    await r.queue.enqueue({ name, kind: KIND, payload: { a: 'é' }, scheduleTime });
    const t = r.fake.tasks.get(`projects/${LOC.project}/locations/${LOC.location}/queues/${LOC.queue}/tasks/${name}`);
    expect(t).toMatchObject({
      id: name,
      // The wire format api/internal-handler.ts reads back into a kind.
      url: `${r.targetUrl}/internal/tasks/${KIND}`,
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      oidc: { serviceAccountEmail: SA, audience: r.targetUrl },
    });
    expect(t?.scheduleTime.getTime()).toBe(scheduleTime.getTime());
    expect(JSON.parse(t?.body.toString('utf8') ?? '')).toEqual({ a: 'é' });
    expect(r.fake.invalid).toEqual([]);
  });

  it('deliveries carry the Cloud Tasks headers and a fresh OIDC token per attempt', async () => {
    let fail = 1;
    r = await rig(async () => {
      if (fail-- > 0) throw new Error('once');
    });
    const name = uid('t');
    await r.queue.enqueue({ name, kind: KIND, payload: {} });
    for (let i = 0; i < 100 && r.seen.length < 2; i++) await sleep(20);
    expect(r.seen.map((h) => h.get('x-cloudtasks-taskretrycount'))).toEqual(['0', '1']);
    for (const h of r.seen) {
      expect(h.get('x-cloudtasks-taskname')).toBe(name);
      expect(h.get('x-cloudtasks-queuename')).toBe(LOC.queue);
      expect(h.get('user-agent')).toBe('Google-Cloud-Tasks');
      expect(h.get('authorization')).toMatch(/^Bearer ey/);
    }
    expect(r.seen[1]?.get('x-cloudtasks-taskpreviousresponse')).toBe('500');
  });

  it('the fake refuses requests outside the v2 schema (so the suite above can fail)', async () => {
    r = await rig();
    const parent = `projects/${LOC.project}/locations/${LOC.location}/queues/${LOC.queue}`;
    const post = (path: string, body: unknown) =>
      fetch(`${r.fake.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
    const http = { url: 'http://127.0.0.1:1/x', httpMethod: 'POST' };
    const bad: [string, unknown][] = [
      [`/v2/${parent}/tasks`, { task: { httpRequest: { ...http, body: 'not base64!' } } }],
      [`/v2/${parent}/tasks`, { task: { httpRequest: http, createTime: '2030-01-01T00:00:00Z' } }],
      [`/v2/${parent}/tasks`, { task: { httpRequest: http, scheduleTime: 1234 } }],
      [`/v2/${parent}/tasks`, { task: { name: `${parent}/tasks/a.b`, httpRequest: http } }],
      [`/v2/${parent}/tasks`, { task: { name: 'projects/x/tasks/a', httpRequest: http } }],
      [`/v2/${parent}/tasks`, { task: { httpRequest: { ...http, httpMethod: 'GET', body: 'e30=' } } }],
      [`/v2/${parent}/tasks`, { task: { httpRequest: { ...http, headers: { 'X-CloudTasks-TaskName': 'x' } } } }],
      [`/v2/${parent}/tasks`, { task: { httpRequest: { ...http, oidcToken: { audience: 'x' } } } }],
      [`/v2/${parent}/tasks`, { task: { httpRequest: { ...http, url: 'ftp://x' } } }],
      [`/v2/${parent}/task`, { task: { httpRequest: http } }],
      [`/v1/${parent}/tasks`, { task: { httpRequest: http } }],
    ];
    for (const [path, body] of bad) {
      const res = await post(path, body);
      expect([400, 404], JSON.stringify(body)).toContain(res.status);
      expect(((await res.json()) as { error: { status: string } }).error.status).toMatch(/INVALID_ARGUMENT|NOT_FOUND/);
    }
    expect(r.fake.invalid).toHaveLength(bad.length);
    expect(r.fake.tasks.size).toBe(0);
    r.fake.invalid.length = 0;
  });

  it('maps API errors to coded errors with the SDK error as cause', async () => {
    r = await rig();
    const cases: [number, string, string][] = [
      [503, 'UNAVAILABLE', 'E_UNAVAILABLE'],
      [429, 'RESOURCE_EXHAUSTED', 'E_UNAVAILABLE'],
      [403, 'PERMISSION_DENIED', 'E_INTERNAL'],
      [404, 'NOT_FOUND', 'E_INTERNAL'],
      [400, 'INVALID_ARGUMENT', 'E_BAD_REQUEST'],
    ];
    for (const [http, status, code] of cases) {
      r.fake.failNextCreate(http, status);
      const err = await expectCode(r.queue.enqueue({ name: uid('t'), kind: KIND, payload: {} }), code as 'E_INTERNAL');
      expect(err.cause).toBeInstanceOf(Error);
    }
    expect(r.fake.tasks.size).toBe(0);
  });

  it('an unreachable endpoint is E_UNAVAILABLE', async () => {
    r = await rig();
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const q = createCloudTasksQueue({
      ...LOC,
      targetBaseUrl: r.targetUrl,
      serviceAccountEmail: SA,
      apiEndpoint: `http://127.0.0.1:${port}`,
    });
    await expectCode(q.enqueue({ name: uid('t'), kind: KIND, payload: {} }), 'E_UNAVAILABLE');
  });

  it('fails fast on a missing option, naming it', () => {
    expect(() =>
      createCloudTasksQueue({ ...LOC, targetBaseUrl: 'https://x.test', serviceAccountEmail: '', apiEndpoint: 'x' }),
    ).toThrow(/serviceAccountEmail/);
  });
});
