// Queued runs end to end against a team deployment on this machine: the bundled Cloud Function (functions-framework)
// on the Firestore and Storage emulators, the fake Cloud Tasks delivering its lease checks and deadlines to
// `/internal/tasks/*` with OIDC tokens, real `studio-lite worker` processes with their own homes and caches, and
// `run --queue` from another home. The same scenarios as queue.test.ts (the `studio-lite serve` backend).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeTask } from '../../../functions/test/support/fake-cloud-tasks.ts';
import { type GcpDeployment, startGcpDeployment, TASKS_SERVICE_ACCOUNT } from './gcp-harness.ts';
import { artifact, cli, cliOk, type Sandbox, showJson, useSandboxes, waitFor } from './helpers.ts';
import {
  artifactShape,
  copyLinearRegression,
  jobOf,
  killOrphanedScript,
  startWorker as startWorkerOf,
  useChildren,
  waitForJob,
  writeStepper,
} from './queue-helpers.ts';

/** Where Cloud Tasks delivers the job task kinds (the wire format of adapters/gcp/cloud-tasks-queue.ts). */
const LEASE_CHECK_ROUTE = '/internal/tasks/lease-check';
const JOB_DEADLINE_ROUTE = '/internal/tasks/job-deadline';

/** The schema's minimum: a silent worker's job is back in the queue ~6 s after its last heartbeat. */
const LEASE_SECONDS = 5;

let dep: GcpDeployment;
const sandbox = useSandboxes();
const children = useChildren();

beforeAll(async () => {
  dep = await startGcpDeployment({ tasks: true, jobLeaseSeconds: LEASE_SECONDS });
  console.info(`[gcp queue e2e] deployment up: ${JSON.stringify(dep.timings)} ms`);
}, 120_000);

afterAll(async () => {
  await dep?.stop();
});

/** A fresh home and cwd whose CLI talks to the deployment (another machine of the team). */
function client(): Sandbox {
  const sb = sandbox();
  return { ...sb, env: dep.env(sb) };
}

const startWorker = (sb: Sandbox, queue: string, extra: string[] = []) => startWorkerOf(children, sb, queue, extra);

/** Tasks the function created for one job, by route (their bodies are `{team, id, …}` JSON). */
function tasksOf(id: string, route: string): (FakeTask & { payload: Record<string, unknown> })[] {
  return [...(dep.tasks?.tasks.values() ?? [])]
    .map((t) => ({ ...t, payload: JSON.parse(t.body.toString('utf8')) as Record<string, unknown> }))
    .filter((t) => t.payload.id === id && new URL(t.url).pathname === route);
}

/** Delivered like Cloud Tasks does: to this function's URL, with an OIDC token of the task account for that URL. */
function expectDeliveredWithOidc(t: FakeTask): void {
  expect(t.url.startsWith(`${dep.url}/internal/tasks/`)).toBe(true);
  expect(t.oidc).toEqual({ serviceAccountEmail: TASKS_SERVICE_ACCOUNT, audience: dep.url });
  expect(t.state).toBe('done');
  const last = t.attempts.at(-1);
  expect(last?.status).toBe(200);
  expect(last?.headers.authorization).toMatch(/^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
}

describe('run --queue on the Cloud Function with real workers', () => {
  it('the internal task routes refuse a request without the task OIDC token', async () => {
    const res = await fetch(`${dep.url}${LEASE_CHECK_ROUTE}`, {
      method: 'POST',
      headers: { 'content-type': 'text/plain', authorization: `Bearer ${dep.token}` },
      body: JSON.stringify({ team: dep.team, id: 'nothing', attempt: 1 }),
    });
    expect(res.status).toBe(401);
  });

  it('a queued linear regression gives the same artifacts as a local run; --follow streams it; a warm reuse moves 0 bytes', async () => {
    const user = client();
    copyLinearRegression(user.cwd);
    const submitted = await cliOk(user, [
      'run',
      '--queue',
      'cpu',
      '-e',
      'qlr',
      '--capture=./weights:weights',
      'train.py',
    ]);
    expect(submitted.stdout.trim()).toBe('qlr');
    expect((await showJson(user, 'qlr')).experiment.status).toBe('queued');

    const w = startWorker(client(), 'cpu', ['--idle-exit', '30']);
    const job = await waitForJob(user, 'qlr', (j) => j.status === 'finished', 'qlr to finish', 90_000);
    expect(job.exitCode).toBe(0);
    expect(job.attempt).toBe(1);
    expect(job.result?.artifacts.weights).toBe(1);

    // The same artifacts as a local run of the same script: 10 weight files, workspace, output with 10 norms.
    const local = sandbox();
    copyLinearRegression(local.cwd);
    await cliOk(local, ['run', '-e', 'llr', '--capture=./weights:weights', 'train.py']);
    const [q, l] = [await showJson(user, 'qlr'), await showJson(local, 'llr')];
    expect(artifactShape(q)).toEqual(artifactShape(l));
    expect(q.experiment.status).toBe('finished');
    const log = await cliOk(user, ['logs', 'qlr']);
    const norms = log.stdout.match(/L2 norm = \S+/g) ?? [];
    expect(norms).toHaveLength(10);

    // A queued reuse, followed: the worker prints the same final norm.
    const followed = await cliOk(user, [
      'run',
      '--queue',
      'cpu',
      '--follow',
      '-e',
      'qnorm1',
      '--reuse=qlr/weights:w',
      'print_norm.py',
    ]);
    expect(followed.stdout.match(/L2 norm = \S+/g)?.at(-1)).toBe(norms.at(-1));
    const first = await jobOf(user, 'qnorm1');
    expect(first.status).toBe('finished');
    expect(first.stats.downloadedBytes).toBeGreaterThan(0);

    // Same reuse again on the same worker: its cache is warm, so no blob byte travels.
    await cliOk(user, ['run', '--queue', 'cpu', '--follow', '-e', 'qnorm2', '--reuse=qlr/weights:w', 'print_norm.py']);
    const second = await jobOf(user, 'qnorm2');
    expect(second.status).toBe('finished');
    expect(second.stats.downloadedBytes).toBe(0);
    expect(second.stats.downloadedBlobs).toBe(0);
    expect(second.stats.cachedBlobs).toBeGreaterThan(0);
    expect((await showJson(user, 'qnorm2')).experiment.lineage).toEqual([
      { as: 'w', experiment: 'qlr', tag: 'weights', version: 1 },
    ]);
    w.child.kill('SIGTERM');
    await w.out;
  }, 240_000);

  it('kill -9 of the worker mid-run: a Cloud Tasks lease check requeues it, the other worker finishes it once, no version lost', async () => {
    const user = client();
    writeStepper(user.cwd, 15);
    await cliOk(user, [
      'run',
      '--queue',
      'gpu',
      '-e',
      'move',
      '--capture-interval',
      '1',
      '--capture=./ckpt:ckpt',
      'stepper.py',
    ]);

    const w1sb = client();
    const w1 = startWorker(w1sb, 'gpu');
    await waitForJob(user, 'move', (j) => j.status === 'leased', 'the first lease');
    // Let it capture at least one intermediate version, then kill the worker without warning.
    await waitFor(() => w1.out.stdoutSoFar().includes('step 4'), 'step 4 on worker 1', 60_000);
    const v1 = artifact(await showJson(user, 'move'), 'ckpt');
    expect(v1.latestVersion).toBeGreaterThanOrEqual(1);
    w1.child.kill('SIGKILL');
    killOrphanedScript(w1sb, 'move', 1);

    const w2 = startWorker(client(), 'gpu', ['--max-jobs', '1', '--idle-exit', '30']);
    const job = await waitForJob(
      user,
      'move',
      (j) => j.status === 'finished',
      'the job to finish on worker 2',
      120_000,
    );
    expect(job.attempt).toBe(2);
    expect(job.history.map((h) => [h.attempt, h.outcome])).toEqual([
      [1, 'lease expired'],
      [2, 'finished'],
    ]);
    expect(job.history[0]?.worker).not.toBe(job.history[1]?.worker);
    expect(job.result?.attempt).toBe(2);

    // The requeue came from Cloud Tasks: lease checks of attempt 1 at each renewed deadline, all delivered with OIDC.
    const checks = tasksOf('move', LEASE_CHECK_ROUTE);
    const firstAttempt = checks.filter((t) => t.payload.attempt === 1);
    expect(firstAttempt.length).toBeGreaterThanOrEqual(1);
    for (const t of firstAttempt) expectDeliveredWithOidc(t);

    const show = await showJson(user, 'move');
    expect(show.experiment.status).toBe('finished');
    const ckpt = artifact(show, 'ckpt');
    // Versions 1..n, none missing; the superseded attempt's versions are kept; the result is the last one.
    expect(ckpt.versions.map((v) => v.version)).toEqual(ckpt.versions.map((_, i) => i + 1));
    expect(ckpt.versions.length).toBeGreaterThan(v1.latestVersion);
    expect(job.result?.artifacts.ckpt).toBe(ckpt.latestVersion);
    expect(ckpt.versions.at(-1)?.files).toBe(15);
    await w2.out;
    expect(dep.tasks?.invalid).toEqual([]);
    // A worker killed with -9 cannot tidy up; it tightens the job folders it left when it starts again.
    await startWorker(w1sb, 'gpu', ['--idle-exit', '0']).out;
  }, 240_000);

  it('stop reaches a running job within seconds; --max-duration kills a run; both end as stopped', async () => {
    const user = client();
    writeStepper(user.cwd, 200);
    await cliOk(user, ['run', '--queue', 'q', '-e', 'tostop', '--capture=./ckpt:ckpt', 'stepper.py']);
    await cliOk(user, [
      'run',
      '--queue',
      'q',
      '-e',
      'toolong',
      '--max-duration',
      '3s',
      '--capture=./ckpt:ckpt',
      'stepper.py',
    ]);
    // This worker runs on a worker token: it may lease queue q and nothing else.
    const minted = await cliOk(user, ['token', 'create', '--worker', '--queue', 'q', '--json']);
    const workerSecret = (JSON.parse(minted.stdout) as { secret: string }).secret;
    const wsb = client();
    wsb.env.STUDIOML_TOKEN = workerSecret;
    const denied = await cli(wsb, ['experiments', '--json']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('E_FORBIDDEN');
    const otherQueue = await cli(wsb, ['worker', '--queue', 'other', '--max-jobs', '1']);
    expect(otherQueue.stderr).toContain('E_FORBIDDEN');
    const w = startWorker(wsb, 'q', ['--concurrency', '2', '--max-jobs', '2', '--idle-exit', '30']);
    await waitForJob(user, 'tostop', (j) => j.status === 'leased', 'tostop to start');
    await waitFor(() => w.out.stdoutSoFar().includes('step 2'), 'the script to run', 60_000);

    const t0 = Date.now();
    await cliOk(user, ['stop', 'tostop']);
    const stopped = await waitForJob(user, 'tostop', (j) => j.status === 'stopped', 'tostop to stop', 30_000);
    const took = Date.now() - t0;
    expect(took).toBeLessThan(15_000);
    expect(stopped.stopRequested).toBe('stop');
    const show = await showJson(user, 'tostop');
    expect(show.experiment.status).toBe('stopped');
    expect(artifact(show, 'ckpt').latestVersion).toBeGreaterThanOrEqual(1); // the final capture ran

    const long = await waitForJob(user, 'toolong', (j) => j.status === 'stopped', 'toolong to be killed', 60_000);
    // The worker's own timer and the server's deadline task race; either way the experiment records why.
    expect(long.exitCode).not.toBe(0);
    const ended = await showJson(user, 'toolong');
    expect(ended.experiment.status).toBe('stopped');
    expect(ended.experiment.warnings.join('\n')).toMatch(/max-duration/);
    // The --max-duration deadline of its attempt came as a Cloud Tasks task.
    const deadlines = tasksOf('toolong', JOB_DEADLINE_ROUTE);
    expect(deadlines.map((t) => t.payload.kind)).toEqual(['max-duration']);
    for (const t of deadlines) expectDeliveredWithOidc(t);
    await w.out;
  }, 240_000);

  it('--lifetime drops a job no worker took in time; stop on a queued job ends it at once; bad flags store nothing', async () => {
    const user = client();
    writeStepper(user.cwd, 1);
    await cliOk(user, ['run', '--queue', 'nobody', '-e', 'waits', '--lifetime', '2s', 'stepper.py']);
    const expired = await waitForJob(user, 'waits', (j) => j.status === 'expired', 'the lifetime task', 30_000);
    expect(expired.attempt).toBe(0);
    expect((await showJson(user, 'waits')).experiment.status).toBe('expired');
    // Nobody leased queue "nobody": only the job-deadline task can have expired it.
    const lifetime = tasksOf('waits', JOB_DEADLINE_ROUTE);
    expect(lifetime.map((t) => t.payload.kind)).toEqual(['lifetime']);
    expectDeliveredWithOidc(lifetime[0] as FakeTask);

    await cliOk(user, ['run', '--queue', 'nobody', '-e', 'cancelled', 'stepper.py']);
    await cliOk(user, ['stop', 'cancelled']);
    expect((await jobOf(user, 'cancelled')).status).toBe('stopped');
    expect((await showJson(user, 'cancelled')).experiment.status).toBe('stopped');

    for (const bad of [
      ['--queue', 'Bad Queue!'],
      ['--queue', 'q', '--max-duration', 'forever'],
      ['--queue', 'q', '--lifetime', '0s'],
      ['--queue', 'q', '--resources', 'gpus'],
      ['--queue', 'q', '--capture', `${user.tmp()}:outside`],
      ['--queue', 'q', '--resume'],
    ]) {
      const r = await cli(user, ['run', ...bad, '-e', 'never', 'stepper.py']);
      expect(r.code, `${bad.join(' ')}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(/studio-lite: E_[A-Z_]+: /);
    }
    const list = await cliOk(user, ['experiments', '--json']);
    expect(list.stdout).not.toContain('"never"');
    expect(dep.tasks?.invalid).toEqual([]);
  }, 120_000);
});
