import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Firestore } from '@google-cloud/firestore';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { createFirestoreJobStore } from '../../src/adapters/gcp/firestore-job-store.ts';
import { openGcpBackend } from '../../src/adapters/gcp/gcp-backend.ts';
import { createOidcVerifier, type OidcVerifier } from '../../src/api/internal-auth.ts';
import { createInternalHandler } from '../../src/api/internal-handler.ts';
import { readGcpConfig } from '../../src/config/gcp-config.ts';
import { isStudioError } from '../../src/contract/errors.ts';
import type { Principal } from '../../src/contract/model.ts';
import { JOB_DEADLINE_ROUTE, LEASE_CHECK_ROUTE, leaseJob, submitJob } from '../../src/core/jobs.ts';
import { expectCode, experiment, sleep, uid } from '../conformance/fixtures.ts';
import { job, testJobStore } from '../conformance/job-store-suite.ts';
import { startFakeCloudTasks } from '../support/fake-cloud-tasks.ts';
import { serveWeb } from '../support/serve-web.ts';

const host = inject('firestoreHost');
process.env.FIRESTORE_EMULATOR_HOST = host;

const newProject = () => `demo-sl-${randomBytes(4).toString('hex')}`;
const client = (projectId: string) => new Firestore({ projectId, ignoreUndefinedProperties: true });

async function wipe(projectId: string): Promise<void> {
  await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE' });
}

testJobStore({
  name: 'firestore (emulator)',
  async make() {
    const projectId = newProject();
    const clients = [client(projectId)];
    return {
      store: createFirestoreJobStore({ projectId, firestore: clients[0] as Firestore }),
      async another() {
        const c = client(projectId); // a second gRPC channel, like a second function instance
        clients.push(c);
        return createFirestoreJobStore({ projectId, firestore: c });
      },
      async cleanup() {
        await Promise.all(clients.map((c) => c.terminate()));
        await wipe(projectId);
      },
    };
  },
});

describe('firestore job store: adapter specifics', () => {
  const projectId = newProject();
  const clients: Firestore[] = [];
  const open = () => {
    const c = client(projectId);
    clients.push(c);
    return c;
  };
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.terminate()));
    await wipe(projectId);
  });

  it('documents live at teams/{team}/jobs/{id}; ids with dots are plain document ids', async () => {
    const db = open();
    const store = createFirestoreJobStore({ projectId, firestore: db });
    const team = uid('team');
    const j = job(team, 'exp.v1.2');
    await store.createJob(j);
    const snap = await db.doc(`teams/${team}/jobs/exp.v1.2`).get();
    expect(snap.data()).toEqual(j);
    expect((await db.collection(`teams/${team}/jobs`).get()).docs.map((d) => d.id)).toEqual(['exp.v1.2']);
  });

  it('ids that Firestore cannot store (or that would address another path) are refused or not found', async () => {
    const store = createFirestoreJobStore({ projectId, firestore: open() });
    const team = uid('team');
    await expectCode(store.createJob(job(team, 'a/b')), 'E_BAD_REQUEST');
    await expectCode(store.createJob(job(team, '__x__')), 'E_BAD_REQUEST');
    await expectCode(store.createJob(job('t/jobs', 'x')), 'E_BAD_REQUEST');
    await expectCode(store.createJob(job(team, '..')), 'E_BAD_REQUEST');
    expect(await store.getJob(team, 'a/b')).toBeNull();
    expect(await store.getJob('a/b', 'x')).toBeNull();
    await expectCode(store.updateJob(team, 'a/b', { stopReason: 'x' }, { status: ['queued'] }), 'E_NOT_FOUND');
    expect(await store.listQueued('a/b', 'default', 10)).toEqual([]);
    expect(await store.listJobs('a/b', {})).toEqual([]);
  });

  it('a lost write race is retried: the loser re-reads and reports E_CONFLICT, the winner one write', async () => {
    const a = createFirestoreJobStore({ projectId, firestore: open() });
    const b = createFirestoreJobStore({ projectId, firestore: open() });
    const team = uid('team');
    await a.createJob(job(team, 'r'));
    // 20 compare-and-sets on the same (status, attempt) with the status left unchanged: the precondition on
    // lastUpdateTime is the only thing that can serialise them; each must see the attempt the previous one wrote.
    const bumps = await Promise.allSettled(
      Array.from({ length: 20 }, async (_, i) => {
        const s = i % 2 ? b : a;
        for (;;) {
          const cur = await s.getJob(team, 'r');
          try {
            return await s.updateJob(
              team,
              'r',
              { attempt: (cur?.attempt ?? 0) + 1 },
              { status: ['queued'], attempt: cur?.attempt ?? 0 },
            );
          } catch (err) {
            if (!isStudioError(err, 'E_CONFLICT')) throw err;
          }
        }
      }),
    );
    expect(bumps.every((r) => r.status === 'fulfilled')).toBe(true);
    expect((await a.getJob(team, 'r'))?.attempt).toBe(20); // no lost update
  }, 30_000);

  it('SDK errors are wrapped: transient -> E_UNAVAILABLE, others -> E_INTERNAL, with cause', async () => {
    const failing = (err: unknown) =>
      new Proxy(open(), {
        get: (target, prop) => {
          if (prop === 'collection')
            return () => {
              throw err;
            };
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    const unavailable = Object.assign(new Error('14 UNAVAILABLE'), { code: 14 });
    const denied = Object.assign(new Error('7 PERMISSION_DENIED'), { code: 7 });
    const e1 = await expectCode(
      createFirestoreJobStore({ projectId, firestore: failing(unavailable) }).getJob('t', 'x'),
      'E_UNAVAILABLE',
    );
    expect(e1.cause).toBe(unavailable);
    const e2 = await expectCode(
      createFirestoreJobStore({ projectId, firestore: failing(denied) }).listQueued('t', 'q', 5),
      'E_INTERNAL',
    );
    expect(e2.cause).toBe(denied);
  });

  it('a store that owns its client works and closes it', async () => {
    const store = createFirestoreJobStore({ projectId });
    const team = uid('team');
    await store.createJob(job(team, 'own'));
    expect((await store.getJob(team, 'own'))?.id).toBe('own');
    await store.close();
    await store.close();
  });

  // The emulator does not enforce composite indexes; production refuses the queries without them.
  it('firestore.indexes.json declares the composite indexes of the job queries', () => {
    const json = JSON.parse(readFileSync(join(import.meta.dirname, '../../../firestore.indexes.json'), 'utf8')) as {
      indexes: { collectionGroup: string; queryScope: string; fields: { fieldPath: string; order: string }[] }[];
    };
    const declared = json.indexes
      .filter((i) => i.collectionGroup === 'jobs' && i.queryScope === 'COLLECTION')
      .map((i) => i.fields.map((f) => `${f.fieldPath} ${f.order}`).join(', '));
    expect(declared).toEqual(
      expect.arrayContaining([
        'queue ASCENDING, status ASCENDING, queuedAt ASCENDING', // listQueued
        'queue ASCENDING, queuedAt DESCENDING', // listJobs by queue
        'status ASCENDING, queuedAt DESCENDING', // listJobs by status
        'queue ASCENDING, status ASCENDING, queuedAt DESCENDING', // listJobs by both
      ]),
    );
  });
});

describe('gcp backend wiring: Firestore jobs + Cloud Tasks deadlines delivered to the internal routes', () => {
  const TASKS_SA = 'tasks@demo-studio-lite.iam.gserviceaccount.com';
  const baseEnv = (projectId: string) => ({ GOOGLE_CLOUD_PROJECT: projectId, STUDIO_BUCKET: 'bkt-unused' });

  it('job settings come from STUDIO_JOB_LEASE_SECONDS / STUDIO_JOB_MAX_ATTEMPTS (defaults 60 / 3, bounded)', () => {
    const d = openGcpBackend(readGcpConfig(baseEnv(newProject())));
    expect(d.jobSettings).toEqual({ leaseSeconds: 60, maxAttempts: 3, pollMs: 1000 });
    expect(d.jobs).toBeDefined();
    expect(d.tasks).toBeUndefined(); // no queue configured: nothing to schedule with
    const cfg = readGcpConfig({ ...baseEnv('p'), STUDIO_JOB_LEASE_SECONDS: '5', STUDIO_JOB_MAX_ATTEMPTS: '1' });
    expect([cfg.STUDIO_JOB_LEASE_SECONDS, cfg.STUDIO_JOB_MAX_ATTEMPTS]).toEqual([5, 1]);
    for (const bad of [
      { STUDIO_JOB_LEASE_SECONDS: '4' },
      { STUDIO_JOB_LEASE_SECONDS: '3601' },
      { STUDIO_JOB_LEASE_SECONDS: '1.5' },
      { STUDIO_JOB_LEASE_SECONDS: 'soon' },
      { STUDIO_JOB_MAX_ATTEMPTS: '0' },
      { STUDIO_JOB_MAX_ATTEMPTS: '21' },
    ]) {
      expect(() => readGcpConfig({ ...baseEnv('p'), ...bad }), JSON.stringify(bad)).toThrow(/STUDIO_JOB_/);
    }
    // A queue alone is not enough: tasks also need the account they run as and the URL they call.
    const partial = openGcpBackend(readGcpConfig({ ...baseEnv('p'), STUDIO_TASKS_QUEUE: 'q' }));
    expect(partial.tasks).toBeUndefined();
  });

  it('lifetime and lease deadlines go through Cloud Tasks (OIDC, STUDIO_PUBLIC_URL + route) and are enforced', async () => {
    const projectId = newProject();
    const fake = await startFakeCloudTasks();
    let verifier: OidcVerifier | undefined;
    let internal: ((req: Request) => Promise<Response>) | undefined;
    const target = await serveWeb(async (req) => {
      if (!internal) return new Response('not ready', { status: 503 });
      return internal(req);
    });
    try {
      const cfg = readGcpConfig({
        ...baseEnv(projectId),
        STUDIO_TASKS_QUEUE: 'studio-jobs',
        STUDIO_TASKS_SERVICE_ACCOUNT: TASKS_SA,
        STUDIO_PUBLIC_URL: target.url,
        STUDIO_JOB_LEASE_SECONDS: '5',
        STUDIO_JOB_MAX_ATTEMPTS: '2',
      });
      const deps = openGcpBackend(cfg, () => new Date(), { tasksApiEndpoint: fake.url });
      expect(deps.tasks).toBeDefined();
      expect(deps.jobSettings).toEqual({ leaseSeconds: 5, maxAttempts: 2, pollMs: 1000 });
      verifier = createOidcVerifier({ audience: target.url, allowedEmail: TASKS_SA, jwksUrl: fake.jwksUrl });
      internal = createInternalHandler(deps, verifier);

      const team = uid('team');
      const editor: Principal = {
        userId: 'alice',
        tokenId: 't',
        kind: 'personal',
        scopes: ['*'],
        teams: { [team]: 'editor' },
      };
      const spec = { command: ['true'], captures: [], inputs: [], captureInterval: 60, resources: {} };
      for (const key of ['short-life', 'silent-worker']) await deps.meta.createExperiment(experiment(team, key));

      // --lifetime 1: nobody leases it, the job-deadline task drops it.
      const a = await submitJob(deps, editor, team, 'short-life', { queue: 'q1', spec, lifetimeSeconds: 1 });
      expect(a.maxAttempts).toBe(2);
      // A worker leases the other one and goes silent: the lease-check task puts it back in the queue.
      await submitJob(deps, editor, team, 'silent-worker', { queue: 'q2', spec });
      const lease = await leaseJob(deps, editor, team, 'q2', { id: 'w1', host: 'h', resources: {} }, 0);
      expect(lease?.job.attempt).toBe(1);
      expect(lease?.leaseSeconds).toBe(5);

      const deadline = Date.now() + 20_000;
      for (;;) {
        const [x, y] = await Promise.all([
          deps.jobs?.getJob(team, 'short-life'),
          deps.jobs?.getJob(team, 'silent-worker'),
        ]);
        // The job moves first, its experiment right after (two writes): wait for both.
        const [ex, ey] = await Promise.all([
          deps.meta.getExperiment(team, 'short-life'),
          deps.meta.getExperiment(team, 'silent-worker'),
        ]);
        if (x?.status === 'expired' && y?.status === 'queued' && ex?.status === 'expired' && ey?.status === 'queued')
          break;
        if (Date.now() > deadline) throw new Error(`deadlines not enforced: ${x?.status} ${y?.status}`);
        await sleep(200);
      }
      expect((await deps.meta.getExperiment(team, 'short-life'))?.status).toBe('expired');
      expect((await deps.meta.getExperiment(team, 'silent-worker'))?.status).toBe('queued');
      const requeued = await deps.jobs?.getJob(team, 'silent-worker');
      expect(requeued).toMatchObject({ attempt: 1, worker: null, leaseExpiresAt: null });
      expect(requeued?.history[0]?.outcome).toBe('lease expired');

      const tasks = [...fake.tasks.values()];
      expect(tasks.map((t) => new URL(t.url).pathname).sort()).toEqual([JOB_DEADLINE_ROUTE, LEASE_CHECK_ROUTE]);
      for (const t of tasks) {
        expect(t.url.startsWith(target.url)).toBe(true);
        expect(t.oidc).toEqual({ serviceAccountEmail: TASKS_SA, audience: target.url });
        expect(t.state).toBe('done');
        expect(t.attempts.at(-1)?.status).toBe(200);
      }
      expect(fake.invalid).toEqual([]);
    } finally {
      await fake.close();
      await target.close();
      await wipe(projectId);
    }
  }, 30_000);
});
