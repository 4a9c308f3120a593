// Queued runs end to end on loopback: a `studio-lite serve` backend (short leases), real `studio-lite worker`
// processes with their own homes and caches, and `run --queue` from a third home. Everything goes over HTTP.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  artifact,
  cli,
  cliOk,
  collect,
  freePort,
  type Sandbox,
  showJson,
  startCli,
  useSandboxes,
  waitFor,
} from './helpers.ts';
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

const sandbox = useSandboxes();
const children = useChildren();

const LEASE_SECONDS = '3';

interface Deployment {
  server: Sandbox;
  url: string;
  token: string;
  /** A sandbox whose CLI talks to the served backend. */
  client(): Sandbox;
}

async function deployment(): Promise<Deployment> {
  const server = sandbox();
  server.env.STUDIOML_JOB_LEASE_SECONDS = LEASE_SECONDS;
  const port = await freePort();
  const child = startCli(server, ['serve', '--port', String(port)]);
  children.push(child);
  const out = collect(child);
  await waitFor(() => out.stdoutSoFar().includes('listening on'), 'serve to listen');
  const token = (JSON.parse(readFileSync(join(server.home, 'credentials.json'), 'utf8')) as { token: string }).token;
  const url = `http://127.0.0.1:${port}`;
  return {
    server,
    url,
    token,
    client: () => {
      const sb = sandbox();
      sb.env.STUDIOML_API_URL = url;
      sb.env.STUDIOML_TOKEN = token;
      return sb;
    },
  };
}

const startWorker = (sb: Sandbox, queue: string, extra: string[] = []) => startWorkerOf(children, sb, queue, extra);

describe('run --queue with real workers', () => {
  it('a queued linear regression gives the same artifacts as a local run; --follow streams it; a warm reuse moves 0 bytes', async () => {
    const d = await deployment();
    const user = d.client();
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

    const wsb = d.client();
    const w = startWorker(wsb, 'cpu', ['--idle-exit', '20']);
    const job = await waitForJob(user, 'qlr', (j) => j.status === 'finished', 'qlr to finish');
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
  });

  it('kill -9 of the worker mid-run: the job moves to the other worker and finishes once, no version lost', async () => {
    const d = await deployment();
    const user = d.client();
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

    const w1sb = d.client();
    const w1 = startWorker(w1sb, 'gpu');
    await waitForJob(user, 'move', (j) => j.status === 'leased', 'the first lease');
    // Let it capture at least one intermediate version, then kill the worker without warning.
    await waitFor(() => w1.out.stdoutSoFar().includes('step 4'), 'step 4 on worker 1', 30_000);
    const v1 = artifact(await showJson(user, 'move'), 'ckpt');
    expect(v1.latestVersion).toBeGreaterThanOrEqual(1);
    w1.child.kill('SIGKILL');
    killOrphanedScript(w1sb, 'move', 1);

    const w2 = startWorker(d.client(), 'gpu', ['--idle-exit', '15']);
    const job = await waitForJob(user, 'move', (j) => j.status === 'finished', 'the job to finish on worker 2', 90_000);
    expect(job.attempt).toBe(2);
    expect(job.history.map((h) => [h.attempt, h.outcome])).toEqual([
      [1, 'lease expired'],
      [2, 'finished'],
    ]);
    expect(job.history[0]?.worker).not.toBe(job.history[1]?.worker);
    expect(job.result?.attempt).toBe(2);

    const show = await showJson(user, 'move');
    expect(show.experiment.status).toBe('finished');
    const ckpt = artifact(show, 'ckpt');
    // Versions 1..n, none missing; the superseded attempt's versions are kept; the result is the last one.
    expect(ckpt.versions.map((v) => v.version)).toEqual(ckpt.versions.map((_, i) => i + 1));
    expect(ckpt.versions.length).toBeGreaterThan(v1.latestVersion);
    expect(job.result?.artifacts.ckpt).toBe(ckpt.latestVersion);
    expect(ckpt.versions.at(-1)?.files).toBe(15);
    await w2.out;
    // A worker killed with -9 cannot tidy up; it tightens the job folders it left when it starts again.
    await startWorker(w1sb, 'gpu', ['--idle-exit', '0']).out;
  });

  it('stop reaches a running job within seconds; --max-duration kills a run; both end as stopped', async () => {
    const d = await deployment();
    const user = d.client();
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
    const wsb = d.client();
    wsb.env.STUDIOML_TOKEN = workerSecret;
    const denied = await cli(wsb, ['experiments', '--json']);
    expect(denied.code).toBe(1);
    expect(denied.stderr).toContain('E_FORBIDDEN');
    const otherQueue = await cli(wsb, ['worker', '--queue', 'other', '--max-jobs', '1']);
    expect(otherQueue.stderr).toContain('E_FORBIDDEN');
    const w = startWorker(wsb, 'q', ['--concurrency', '2', '--idle-exit', '10']);
    await waitForJob(user, 'tostop', (j) => j.status === 'leased', 'tostop to start');
    await waitFor(() => w.out.stdoutSoFar().includes('step 2'), 'the script to run', 30_000);

    const t0 = Date.now();
    await cliOk(user, ['stop', 'tostop']);
    const stopped = await waitForJob(user, 'tostop', (j) => j.status === 'stopped', 'tostop to stop', 30_000);
    const took = Date.now() - t0;
    expect(took).toBeLessThan(15_000);
    expect(stopped.stopRequested).toBe('stop');
    const show = await showJson(user, 'tostop');
    expect(show.experiment.status).toBe('stopped');
    expect(artifact(show, 'ckpt').latestVersion).toBeGreaterThanOrEqual(1); // the final capture ran

    const long = await waitForJob(user, 'toolong', (j) => j.status === 'stopped', 'toolong to be killed', 40_000);
    // The worker's own timer and the server's deadline task race; either way the experiment records why.
    expect(long.exitCode).not.toBe(0);
    const ended = await showJson(user, 'toolong');
    expect(ended.experiment.status).toBe('stopped');
    expect(ended.experiment.warnings.join('\n')).toMatch(/max-duration/);
    await w.out;
  });

  it('--lifetime drops a job no worker took in time; stop on a queued job ends it at once; bad flags store nothing', async () => {
    const d = await deployment();
    const user = d.client();
    writeStepper(user.cwd, 1);
    await cliOk(user, ['run', '--queue', 'nobody', '-e', 'waits', '--lifetime', '2s', 'stepper.py']);
    const expired = await waitForJob(user, 'waits', (j) => j.status === 'expired', 'the lifetime task', 20_000);
    expect(expired.attempt).toBe(0);
    expect((await showJson(user, 'waits')).experiment.status).toBe('expired');

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
  });
});
