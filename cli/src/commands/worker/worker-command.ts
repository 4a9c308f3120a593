import { randomUUID } from 'node:crypto';
import { chmodSync, mkdirSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { assertQueue, isStudioError } from '@studio-lite/functions/contract';
import { loadConfig } from '../../config.ts';
import { connect } from '../../connect.ts';
import { parseResources } from '../../duration.ts';
import { ExitError } from '../../exit-error.ts';
import { cliPaths } from '../../home/cli-home.ts';
import { mkdirPrivate, tightenHome, tightenTree } from '../../home/private-files.ts';
import { createLogger } from '../../logger.ts';
import { resolveRunAs } from './run-as.ts';
import { runJob } from './run-job.ts';

export interface WorkerOpts {
  config?: string;
  quiet?: boolean;
  debug?: boolean;
  queue: string;
  concurrency?: number;
  cacheDir?: string;
  resources?: string[];
  /** Exit after this many jobs (tests, batch machines). */
  maxJobs?: number;
  /** Exit after this many seconds without a job. */
  idleExit?: number;
  json?: boolean;
  /** Run every job's script as this Unix user (the worker runs as root and keeps the token to itself). */
  runAs?: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * `studio-lite worker --queue NAME`: pulls jobs (long-poll lease requests, so it works behind NAT) and runs up to
 * `--concurrency` at once. First SIGINT/SIGTERM: take no new job, let running ones finish; second: kill them and
 * leave without completing, so their leases lapse and the jobs move to another worker.
 */
export async function workerCommand(opts: WorkerOpts): Promise<number> {
  const cfg = await loadConfig(opts.config);
  const log = createLogger({ quiet: opts.quiet, debug: opts.debug });
  const queue = assertQueue(opts.queue);
  const concurrency = opts.concurrency ?? 1;
  if (!Number.isSafeInteger(concurrency) || concurrency < 1 || concurrency > 64) {
    throw new ExitError(2, '--concurrency must be an integer from 1 to 64', 'E_BAD_REQUEST');
  }
  const resources = parseResources(opts.resources ?? []);
  const cacheDir = opts.cacheDir ? resolve(opts.cacheDir) : cliPaths(cfg.home).blobcache;
  const runAs = opts.runAs === undefined ? undefined : resolveRunAs(opts.runAs);
  // With --run-as, job folders live where the script's user can reach them (not under the worker's private home):
  // a root-owned 0711 folder in the temp directory, each job's folder handed to that user.
  const workDir = runAs
    ? join(tmpdir(), `studio-lite-worker-${process.pid}`)
    : join(opts.cacheDir ? resolve(opts.cacheDir) : cfg.home, 'worker-jobs');
  if (runAs) {
    mkdirSync(workDir, { recursive: true, mode: 0o711 });
    chmodSync(workDir, 0o711);
  } else {
    // Job folders hold the team's code and data: private (0700) like everything else in the home.
    mkdirPrivate(workDir);
    // Folders of a job this worker was killed in the middle of (kill -9) are tightened when it starts again.
    await tightenHome(workDir).catch(() => 0);
  }
  const id = `${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;

  const conn = await connect(cfg);
  const draining = new AbortController();
  const abandon = new AbortController();
  const onSignal = () => {
    if (!draining.signal.aborted) {
      log.warn('studio-lite worker: finishing running jobs, taking no new ones (signal again to abandon them)');
      draining.abort();
    } else abandon.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  let started = 0;
  let done = 0;
  let lastJobAt = Date.now();
  const outcomes: Record<string, number> = {};
  log.info(`studio-lite worker ${id}: queue ${queue}, ${concurrency} slot(s)`);

  const slot = async () => {
    while (!draining.signal.aborted) {
      if (opts.maxJobs !== undefined && started >= opts.maxJobs) return;
      if (opts.idleExit !== undefined && Date.now() - lastJobAt > opts.idleExit * 1000) return;
      let lease: Awaited<ReturnType<typeof conn.client.lease>>['lease'];
      try {
        ({ lease } = await conn.client.lease(queue, {
          worker: { id, host: hostname(), resources },
          waitSeconds: opts.idleExit !== undefined ? Math.min(opts.idleExit, 10) : 10,
        }));
      } catch (err) {
        if (isStudioError(err, 'E_UNAVAILABLE') || isStudioError(err, 'E_INTERNAL')) {
          log.warn(`studio-lite worker: lease failed: ${(err as Error).message}; retrying`);
          await sleep(2000);
          continue;
        }
        throw err;
      }
      if (!lease) continue;
      started += 1;
      lastJobAt = Date.now();
      log.info(`studio-lite worker: running ${lease.job.id} (attempt ${lease.job.attempt})`);
      const r = await runJob(lease, cfg, log, {
        api: conn.client,
        workDir,
        cacheDir,
        remote: conn.mode === 'remote',
        echo: !opts.quiet,
        abandon: abandon.signal,
        runAs,
      });
      // The script and the layout wrote under their own umask; the folder runJob used (`<id>-a<attempt>`) is
      // made private once the job is over.
      if (!runAs) {
        await tightenTree(join(workDir, `${lease.job.id}-a${lease.job.attempt}`)).catch(() => 0);
        // A worker killed mid-job (kill -9) never did that for its folder: a cheap check finds such leftovers.
        await tightenHome(workDir).catch(() => 0);
      }
      outcomes[r.status] = (outcomes[r.status] ?? 0) + 1;
      done += 1;
      lastJobAt = Date.now();
      if (abandon.signal.aborted) return;
    }
  };
  try {
    await Promise.all(Array.from({ length: concurrency }, slot));
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await conn.close();
  }
  if (opts.json) process.stdout.write(`${JSON.stringify({ worker: id, jobs: done, outcomes })}\n`);
  else log.info(`studio-lite worker ${id}: ${done} job(s) run`);
  return 0;
}
