/**
 * `npm run bench:jobs` (also the second half of `npm run bench`): issue 5's load test. A `studio-lite serve` backend
 * and 4 real `studio-lite worker` processes (own homes, HTTP only) on this machine run N short jobs (BENCH_JOBS,
 * default 200, times BENCH_SCALE) in two phases:
 *   - backlog: all N submitted first (createExperiment + workspace capture + submitJob, one by one, like
 *     `run --queue`), then the workers start and drain the queue: jobs/s against a baseline that runs the same
 *     commands with child_process.spawn, 4 at a time, in this process (no queue, no capture);
 *   - steady: the same workers, now idle and long-polling; N more jobs submitted one by one with at most 3 unfinished,
 *     so a worker is always waiting: queuedAt -> leasedAt is then the true dispatch latency.
 * Then it checks that every job finished exactly once (status, attempt, lease history, exit code, the job's own
 * output, the workers' summaries) and exits 1 if not. Prints a table and merges a `jobs` key into .tmp/bench.json.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, hostname, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { JobRecord } from '@studio-lite/functions/contract';
import { ApiClient } from '../cli/src/api-client.ts';
import { Capturer } from '../cli/src/artifacts/capture-artifact.ts';
import type { CliConfig } from '../cli/src/config.ts';
import { createLogger } from '../cli/src/logger.ts';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const N = Math.max(4, Math.round(Number(process.env.BENCH_JOBS ?? 200) * scale));
const WORKERS = 4;
/** Steady phase: unfinished jobs at most, one less than the workers, so one is always long-polling for the next. */
const IN_FLIGHT = WORKERS - 1;
const QUEUE = 'bench';
const IDLE_EXIT_SECONDS = 5;
/** The bundled CLI beside this bundle (cli/dist/jobs-bench.js -> cli/dist/studio-lite.js). */
const BIN = fileURLToPath(new URL('./studio-lite.js', import.meta.url));
/** The interpreter itself, not a pyenv/asdf shim (a shim is a shell script that would bill ~50 ms per job to both). */
const PYTHON =
  process.env.BENCH_PYTHON ??
  execFileSync('python3', ['-c', 'import sys; print(sys.executable)'], { encoding: 'utf8' }).trim();
const log = createLogger({ quiet: true });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** For races: does not keep the process alive once the race is decided. */
const deadline = (ms: number) => new Promise<null>((r) => setTimeout(() => r(null), ms).unref());

function pct(xs: number[], p: number): number {
  if (xs.length === 0) return Number.NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))] as number;
}
const median = (xs: number[]) => pct(xs, 50);
const ms = (a: string, b: string) => Date.parse(b) - Date.parse(a);

/** The job: its key is baked into the script (the workspace) and must match the env the worker gives it. */
function script(key: string): string {
  return [
    'import os',
    `KEY = ${JSON.stringify(key)}`,
    "got = os.environ.get('STUDIOML_EXPERIMENT')",
    "assert got == KEY, 'STUDIOML_EXPERIMENT is %r' % got",
    "print('done', KEY)",
    '',
  ].join('\n');
}
const COMMAND = [PYTHON, 'job.py'];

/** The environment of a child CLI: nothing from ours that would point it elsewhere, plus its own home. */
function cliEnv(home: string, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) if (k.startsWith('STUDIOML_') || k === 'PYTHONPATH') delete env[k];
  return { ...env, STUDIOML_HOME: home, ...extra };
}

interface Proc {
  child: ChildProcess;
  stdout(): string;
  stderr(): string;
  exited: Promise<number | null>;
}
function start(args: string[], env: NodeJS.ProcessEnv, cwd: string): Proc {
  const child = spawn(process.execPath, [BIN, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    out += s;
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    err += s;
  });
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
  return { child, stdout: () => out, stderr: () => err, exited };
}

/** The baseline: the same commands in the same prepared folders, spawned directly, `parallel` at a time. */
async function baseline(dirs: { key: string; dir: string }[], parallel: number) {
  const perJob: number[] = [];
  let next = 0;
  const t0 = performance.now();
  const lane = async () => {
    for (let i = next++; i < dirs.length; i = next++) {
      const { key, dir } = dirs[i] as { key: string; dir: string };
      const t = performance.now();
      const code = await new Promise<number | null>((resolve, reject) => {
        const c = spawn(COMMAND[0] as string, COMMAND.slice(1), {
          cwd: dir,
          env: { ...process.env, STUDIOML_EXPERIMENT: key, PYTHONUNBUFFERED: '1' },
          stdio: ['ignore', 'pipe', 'pipe'],
        });
        c.stdout?.resume();
        c.stderr?.resume();
        c.on('error', reject);
        c.on('close', resolve);
      });
      if (code !== 0) throw new Error(`baseline: ${key} exited ${code}`);
      perJob.push((performance.now() - t) / 1000);
    }
  };
  await Promise.all(Array.from({ length: parallel }, lane));
  const seconds = (performance.now() - t0) / 1000;
  return { seconds, jobsPerSecond: dirs.length / seconds, perJobMedian: median(perJob) };
}

interface Check {
  violations: string[];
  /** Per-job phase durations (ms) from the job record and the commit times of its artifact versions. */
  phases: Record<'leaseToOutput' | 'outputToFinished', number[]>;
}

/** Everything a job that ran exactly once must show; returns what does not hold. */
async function checkJob(client: ApiClient, job: JobRecord, phases: Check['phases']): Promise<string[]> {
  const bad: string[] = [];
  const k = job.id;
  if (job.status !== 'finished') bad.push(`${k}: status ${job.status}`);
  if (job.attempt !== 1) bad.push(`${k}: attempt ${job.attempt}`);
  if (job.history.length !== 1 || job.history[0]?.outcome !== 'finished') {
    bad.push(`${k}: lease history ${JSON.stringify(job.history.map((h) => [h.attempt, h.worker, h.outcome]))}`);
  }
  if (job.exitCode !== 0) bad.push(`${k}: exit code ${job.exitCode}`);
  if (job.result?.attempt !== 1) bad.push(`${k}: result of attempt ${job.result?.attempt}`);
  const outV = job.result?.artifacts.output;
  if (outV === undefined) return [...bad, `${k}: no output version in the result`];
  const { version } = await client.getVersion(k, 'output', outV);
  const file = version.manifest.files[0];
  let text = '';
  if (file) {
    const { blobs } = await client.signDownloads(k, 'output', outV, { sha256s: [file.sha256] });
    const req = blobs[0]?.request;
    if (!req) return [...bad, `${k}: no download URL for its output`];
    const res = await fetch(req.url, { method: req.method, headers: req.headers });
    text = await res.text();
  }
  const seen = text.split(k).length - 1;
  if (seen !== 1 || text !== `done ${k}\n`) bad.push(`${k}: output ${JSON.stringify(text.slice(0, 200))}`);
  // Where a steady job's time on the worker went: lease -> the output version's commit (workspace download, python,
  // the output capture) -> finished (modeldir and tb, empty folders that get no version, then complete).
  const leased = job.history[0]?.leasedAt;
  if (k.startsWith('s-') && leased && job.finishedAt) {
    phases.leaseToOutput.push(ms(leased, version.createdAt));
    phases.outputToFinished.push(ms(version.createdAt, job.finishedAt));
  }
  return bad;
}

async function pool<T>(items: T[], parallel: number, fn: (x: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: parallel }, async () => {
      for (let i = next++; i < items.length; i = next++) await fn(items[i] as T);
    }),
  );
}

async function main(): Promise<number> {
  const work = await mkdtemp(join(tmpdir(), 'sl-jobs-bench-'));
  const procs: Proc[] = [];
  const load = { start: loadavg().map((x) => +x.toFixed(2)), end: [] as number[] };
  try {
    // Workspaces (one script each, its key inside, so every workspace is its own blob) and the baseline's folders.
    const keys = {
      backlog: Array.from({ length: N }, (_, i) => `b-${String(i).padStart(4, '0')}`),
      steady: Array.from({ length: N }, (_, i) => `s-${String(i).padStart(4, '0')}`),
    };
    const wsOf = (key: string) => join(work, 'ws', key);
    for (const key of [...keys.backlog, ...keys.steady]) {
      mkdirSync(wsOf(key), { recursive: true });
      writeFileSync(join(wsOf(key), 'job.py'), script(key));
    }
    const baseDirs = keys.backlog.map((key) => ({ key, dir: wsOf(key) }));
    const serial = await baseline(baseDirs.slice(0, 20), 1);
    const baseRuns = [await baseline(baseDirs, WORKERS)];

    // The backend.
    const serveHome = join(work, 'serve-home');
    mkdirSync(serveHome);
    const serve = start(['serve', '--port', '0'], cliEnv(serveHome), work);
    procs.push(serve);
    let url = '';
    for (let i = 0; !url; i += 1) {
      url = /listening on (http:\/\/\S+)/.exec(serve.stdout())?.[1] ?? '';
      if (serve.child.exitCode !== null || i > 600) throw new Error(`serve did not start: ${serve.stderr()}`);
      if (!url) await sleep(50);
    }
    const token = (JSON.parse(readFileSync(join(serveHome, 'credentials.json'), 'utf8')) as { token: string }).token;
    const client = new ApiClient(url, token);
    const subHome = join(work, 'submit-home');
    mkdirSync(subHome);
    const cfg: CliConfig = {
      home: subHome,
      apiUrl: url,
      team: null,
      captureInterval: 60,
      materialize: 'link',
      offline: 'never',
    };

    /** What `run --queue` does (submit-run.ts), minus process start and git: register, capture, queue. */
    const submit = async (key: string): Promise<number> => {
      const t = performance.now();
      await client.createExperiment({ key, command: COMMAND, cwd: wsOf(key), host: hostname(), queued: true });
      const cap = new Capturer(client, key, cfg, log, [subHome], { md5: true });
      try {
        await cap.capture({ tag: 'workspace', path: wsOf(key), mutable: false, useIgnoreFile: true });
      } finally {
        cap.close();
      }
      await client.submitJob(key, {
        queue: QUEUE,
        spec: { command: COMMAND, captures: [], inputs: [], captureInterval: 60, resources: {} },
      });
      return (performance.now() - t) / 1000;
    };
    const unfinished = async () =>
      (await client.listJobs({ queue: QUEUE, status: ['queued', 'leased'], limit: N })).jobs.length;
    const workers: Proc[] = [];
    const drain = async (what: string) => {
      for (;;) {
        if ((await unfinished()) === 0) return;
        if (workers.every((w) => w.child.exitCode !== null)) throw new Error(`every worker exited during ${what}`);
        await sleep(100);
      }
    };

    // Backlog: all submitted, then the workers start.
    const submitTimes: number[] = [];
    const backlogStart = Date.now();
    for (const key of keys.backlog) submitTimes.push(await submit(key));
    const submitSeconds = (Date.now() - backlogStart) / 1000;
    const workersSpawnedAt = Date.now();
    for (let i = 0; i < WORKERS; i += 1) {
      const home = join(work, `worker-${i}`);
      mkdirSync(home);
      const w = start(
        ['worker', '--queue', QUEUE, '--idle-exit', String(IDLE_EXIT_SECONDS), '--json', '-q'],
        cliEnv(home, { STUDIOML_API_URL: url, STUDIOML_TOKEN: token }),
        home,
      );
      workers.push(w);
      procs.push(w);
    }
    await drain('the backlog');

    // Steady: the workers are up and long-polling; at most IN_FLIGHT unfinished at any time.
    const steadyWorkers = workers.filter((w) => w.child.exitCode === null).length;
    const steadyStart = Date.now();
    let inFlight = 0;
    for (const key of keys.steady) {
      while (inFlight >= IN_FLIGHT) {
        await sleep(20);
        inFlight = await unfinished();
      }
      await submit(key);
      inFlight += 1;
    }
    await drain('the steady phase');
    const steadyEnd = Date.now();

    // The workers leave after IDLE_EXIT_SECONDS without a job; their --json summaries are the last stdout line.
    const codes = await Promise.race([
      Promise.all(workers.map((w) => w.exited)),
      deadline(60_000 + IDLE_EXIT_SECONDS * 2000),
    ]);
    baseRuns.push(await baseline(baseDirs, WORKERS), await baseline(baseDirs, WORKERS));
    load.end = loadavg().map((x) => +x.toFixed(2));

    // Exactly once.
    const violations: string[] = [];
    const total = 2 * N;
    const { jobs } = await client.listJobs({ queue: QUEUE, limit: 10_000 });
    const ids = new Set(jobs.map((j) => j.id));
    if (jobs.length !== total || ids.size !== total) violations.push(`${jobs.length} jobs listed, expected ${total}`);
    for (const key of [...keys.backlog, ...keys.steady]) if (!ids.has(key)) violations.push(`${key}: no job`);
    const phases: Check['phases'] = { leaseToOutput: [], outputToFinished: [] };
    await pool(jobs, 8, async (j) => {
      violations.push(...(await checkJob(client, j, phases)));
    });
    const summaries: { worker: string; jobs: number; outcomes: Record<string, number> }[] = [];
    if (!codes) violations.push('workers did not exit after going idle');
    workers.forEach((w, i) => {
      if (codes && codes[i] !== 0) violations.push(`worker ${i} exited ${codes[i]}: ${w.stderr().slice(-500)}`);
      const line = w.stdout().trim().split('\n').at(-1) ?? '';
      try {
        summaries.push(JSON.parse(line));
      } catch {
        violations.push(`worker ${i}: no JSON summary (stdout ${JSON.stringify(line.slice(0, 200))})`);
      }
    });
    const ran = summaries.reduce((s, x) => s + x.jobs, 0);
    const finished = summaries.reduce((s, x) => s + (x.outcomes.finished ?? 0), 0);
    if (ran !== total || finished !== total) {
      violations.push(`workers report ${ran} jobs run, ${finished} finished; expected ${total}`);
    }
    // Each worker's own count matches the leases the backend recorded for it.
    for (const s of summaries) {
      const leased = jobs.filter((j) => j.history.some((h) => h.worker === s.worker)).length;
      if (leased !== s.jobs) violations.push(`worker ${s.worker}: ran ${s.jobs}, backend recorded ${leased} leases`);
    }

    // Figures.
    const of = (prefix: string) => jobs.filter((j) => j.id.startsWith(prefix));
    const dispatch = (js: JobRecord[]) =>
      js.flatMap((j) => (j.history[0] ? [ms(j.queuedAt, j.history[0].leasedAt)] : []));
    const e2e = (js: JobRecord[]) => js.flatMap((j) => (j.finishedAt ? [ms(j.queuedAt, j.finishedAt)] : []));
    const onWorker = (js: JobRecord[]) =>
      js.flatMap((j) => (j.history[0] && j.finishedAt ? [ms(j.history[0].leasedAt, j.finishedAt)] : []));
    const lastFinish = (js: JobRecord[]) => Math.max(...js.map((j) => Date.parse(j.finishedAt ?? '')));
    const b = of('b-');
    const s = of('s-');
    const drainSeconds = (lastFinish(b) - workersSpawnedAt) / 1000;
    const drainJps = N / drainSeconds;
    const base = [...baseRuns].sort((x, y) => x.jobsPerSecond - y.jobsPerSecond)[1] as (typeof baseRuns)[number];
    const perJob = Object.fromEntries(
      Object.entries(phases).map(([k, xs]) => [k, { p50: median(xs), p99: pct(xs, 99) }]),
    );
    const result = {
      date: new Date().toISOString(),
      jobs: N,
      workers: WORKERS,
      cpus: cpus().length,
      load,
      python: PYTHON,
      exactlyOnce: violations.length === 0,
      violations: violations.slice(0, 50),
      submit: {
        seconds: submitSeconds,
        perSecond: N / submitSeconds,
        p50: median(submitTimes),
        p99: pct(submitTimes, 99),
      },
      backlog: {
        drainSeconds,
        jobsPerSecond: drainJps,
        endToEndJobsPerSecond: N / ((lastFinish(b) - backlogStart) / 1000),
        queueWaitP50Ms: median(dispatch(b)),
        queueWaitP99Ms: pct(dispatch(b), 99),
        onWorkerP50Ms: median(onWorker(b)),
        onWorkerP99Ms: pct(onWorker(b), 99),
      },
      steady: {
        workersAlive: steadyWorkers,
        inFlight: IN_FLIGHT,
        jobsPerSecond: N / ((steadyEnd - steadyStart) / 1000),
        dispatchP50Ms: median(dispatch(s)),
        dispatchP99Ms: pct(dispatch(s), 99),
        endToEndP50Ms: median(e2e(s)),
        endToEndP99Ms: pct(e2e(s), 99),
        onWorkerP50Ms: median(onWorker(s)),
        onWorkerP99Ms: pct(onWorker(s), 99),
      },
      phasesMs: perJob,
      baseline: {
        runs: baseRuns,
        jobsPerSecond: base.jobsPerSecond,
        perJobMedianMs: base.perJobMedian * 1000,
        serialPythonMs: serial.perJobMedian * 1000,
      },
      ratio: drainJps / base.jobsPerSecond,
      /** Extra slot-seconds per job: a worker slot is busy this much longer per job than a bare spawn. */
      overheadPerJobMs: (WORKERS / drainJps - WORKERS / base.jobsPerSecond) * 1000,
      perWorker: summaries.map((x) => x.jobs),
    };

    const f0 = (x: number) => x.toFixed(0);
    const f1 = (x: number) => x.toFixed(1);
    const f2 = (x: number) => x.toFixed(2);
    const row = (name: string, value: string, note = '') =>
      process.stdout.write(`${name.padEnd(46)} ${value.padStart(16)}${note ? `  ${note}` : ''}\n`);
    process.stdout.write(
      `studio-lite jobs bench (${N} jobs per phase, ${WORKERS} workers, ${cpus().length} cpus, load ${load.start.join(' ')} -> ${load.end.join(' ')}, ${result.date})\n`,
    );
    row(
      'submit (create + capture workspace + submit)',
      `${f1(result.submit.perSecond)} jobs/s`,
      `p50 ${f0(result.submit.p50 * 1000)} ms, p99 ${f0(result.submit.p99 * 1000)} ms`,
    );
    row(
      'baseline: spawn, 4 at a time',
      `${f1(base.jobsPerSecond)} jobs/s`,
      `median of ${baseRuns.map((r) => f1(r.jobsPerSecond)).join(', ')}; ${f0(base.perJobMedian * 1000)} ms per job`,
    );
    row(
      'backlog drain (workers spawned -> last finish)',
      `${f1(drainJps)} jobs/s`,
      `ratio ${f2(result.ratio)} vs baseline; +${f0(result.overheadPerJobMs)} ms slot time per job`,
    );
    row('backlog first submit -> last finish', `${f1(result.backlog.endToEndJobsPerSecond)} jobs/s`);
    row(
      'backlog: job on worker (lease -> finished)',
      `p50 ${f0(result.backlog.onWorkerP50Ms)} ms`,
      `p99 ${f0(result.backlog.onWorkerP99Ms)} ms`,
    );
    row(
      `steady (<= ${IN_FLIGHT} unfinished): dispatch latency`,
      `p50 ${f0(result.steady.dispatchP50Ms)} ms`,
      `p99 ${f0(result.steady.dispatchP99Ms)} ms (queuedAt -> leasedAt)`,
    );
    row(
      'steady: end-to-end (queued -> finished)',
      `p50 ${f0(result.steady.endToEndP50Ms)} ms`,
      `p99 ${f0(result.steady.endToEndP99Ms)} ms`,
    );
    row(
      'steady: job on worker (lease -> finished)',
      `p50 ${f0(result.steady.onWorkerP50Ms)} ms`,
      `p99 ${f0(result.steady.onWorkerP99Ms)} ms`,
    );
    row('steady throughput', `${f1(result.steady.jobsPerSecond)} jobs/s`, `${steadyWorkers} workers alive`);
    for (const [k, v] of Object.entries(perJob)) row(`steady job: ${k}`, `p50 ${f0(v.p50)} ms`, `p99 ${f0(v.p99)} ms`);
    row('python alone, 1 at a time', `${f0(serial.perJobMedian * 1000)} ms`, 'per job (the floor of a job)');
    row('jobs per worker', result.perWorker.join(' '));
    row(
      'exactly once',
      result.exactlyOnce ? 'yes' : 'NO',
      result.exactlyOnce
        ? `${total} jobs: finished, attempt 1, one lease, exit 0, own output once; workers ran ${ran}`
        : violations.slice(0, 10).join('; '),
    );

    mkdirSync('.tmp', { recursive: true });
    let prev: Record<string, unknown> = {};
    try {
      prev = JSON.parse(readFileSync('.tmp/bench.json', 'utf8')) as Record<string, unknown>;
    } catch {
      // no earlier bench output
    }
    writeFileSync('.tmp/bench.json', JSON.stringify({ ...prev, jobs: result }, null, 2));
    return result.exactlyOnce ? 0 : 1;
  } finally {
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGTERM');
    await Promise.race([Promise.all(procs.map((p) => p.exited)), deadline(10_000)]);
    for (const p of procs) if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  }
}

process.exitCode = await main();
