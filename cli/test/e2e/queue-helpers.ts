// Shared by the queued-run end-to-end tests: queue.test.ts (a `studio-lite serve` backend) and gcp-queue.test.ts
// (the Cloud Function on the emulators, with the fake Cloud Tasks delivering its deadlines).
import type { ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import type { JobRecord } from '../../../functions/src/contract/job-model.ts';
import { cliOk, collect, EXAMPLES, type Sandbox, type ShowJson, startCli } from './helpers.ts';

/** Child processes of the current test (servers, workers): SIGKILLed after each test. Call at the top level. */
export function useChildren(): ChildProcess[] {
  const children: ChildProcess[] = [];
  afterEach(() => {
    for (const c of children.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  });
  return children;
}

/** `studio-lite worker --queue Q` with its blob cache (and job folders) in `<home>/wcache`. */
export function startWorker(children: ChildProcess[], sb: Sandbox, queue: string, extra: string[] = []) {
  const child = startCli(sb, ['worker', '--queue', queue, '--cache-dir', join(sb.home, 'wcache'), ...extra]);
  children.push(child);
  return { child, out: collect(child) };
}

export async function jobOf(sb: Sandbox, key: string): Promise<JobRecord> {
  const r = await cliOk(sb, ['jobs', '--json']);
  const job = (JSON.parse(r.stdout) as { jobs: JobRecord[] }).jobs.find((j) => j.id === key);
  if (!job) throw new Error(`no job ${key}`);
  return job;
}

export async function waitForJob(
  sb: Sandbox,
  key: string,
  pred: (j: JobRecord) => boolean,
  what: string,
  ms = 60_000,
): Promise<JobRecord> {
  const end = Date.now() + ms;
  for (;;) {
    const j = await jobOf(sb, key);
    if (pred(j)) return j;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}; job is ${JSON.stringify(j)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** A script that saves a checkpoint every 0.4 s for `steps` steps, writing its pid first (to clean up orphans). */
export function writeStepper(dir: string, steps: number): void {
  writeFileSync(
    join(dir, 'stepper.py'),
    [
      'import os, time',
      'from studio import fs_tracker',
      "d = fs_tracker.get_artifact('ckpt')",
      "open(os.path.join(os.getcwd(), 'pid'), 'w').write(str(os.getpid()))",
      `for i in range(${steps}):`,
      "    open(os.path.join(d, 'step-%03d.txt' % i), 'w').write('step %d\\n' % i)",
      "    print('step', i, flush=True)",
      '    time.sleep(0.4)',
      "print('DONE', flush=True)",
    ].join('\n'),
  );
  mkdirSync(join(dir, 'ckpt'), { recursive: true });
}

/** The linear-regression example (train.py, print_norm.py) and an empty weights folder in `dir`. */
export function copyLinearRegression(dir: string): void {
  copyFileSync(join(EXAMPLES, 'train.py'), join(dir, 'train.py'));
  copyFileSync(join(EXAMPLES, 'print_norm.py'), join(dir, 'print_norm.py'));
  mkdirSync(join(dir, 'weights'));
}

/** What must match between a queued and a local run: per artifact with versions, its tag, mutability, file count. */
export function artifactShape(s: ShowJson) {
  return s.artifacts
    .filter((a) => a.versions.length > 0)
    .map((a) => [a.tag, a.mutable, a.versions.at(-1)?.files])
    .sort();
}

/**
 * A script started by a worker runs in its own process group and outlives a `kill -9` of the worker; this ends it
 * too (a dead machine), through the pid the stepper wrote into its workspace.
 */
export function killOrphanedScript(workerSb: Sandbox, key: string, attempt: number): void {
  const pidFile = join(workerSb.home, 'wcache', 'worker-jobs', `${key}-a${attempt}`, 'workspace', 'pid');
  if (!existsSync(pidFile)) return;
  try {
    process.kill(Number(readFileSync(pidFile, 'utf8')), 'SIGKILL');
  } catch {
    // already gone
  }
}
