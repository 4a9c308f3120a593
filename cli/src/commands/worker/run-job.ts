import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { isStudioError, type LeaseResult } from '@studio-lite/functions/contract';
import type { ApiClient } from '../../api-client.ts';
import type { CaptureTarget } from '../../artifacts/capture-artifact.ts';
import { fetchArtifact } from '../../artifacts/fetch-artifact.ts';
import type { CliConfig } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import { exitCodeFor, runChild } from '../../session/child.ts';
import { ExperimentSession } from '../../session/experiment-session.ts';
import { defaultTargets } from '../../session/run-targets.ts';
import { type JobControl, startJobControl } from './job-control.ts';
import { giveFolder, type RunAs } from './run-as.ts';

export interface JobRunOptions {
  /** The worker's client of the API the lease came from; the job token talks to the same one. */
  api: ApiClient;
  /** Where jobs are laid out (`<dir>/<exp>-a<attempt>`). */
  workDir: string;
  /** Verified blob cache shared by every job of this worker (warm reuses transfer nothing). */
  cacheDir: string;
  remote: boolean;
  /** Echo the scripts' output to this worker's terminal. */
  echo: boolean;
  /** Set when the worker is shutting down hard: kill the script, do not complete (the lease lapses, the job moves). */
  abandon: AbortSignal;
  /** `--run-as USER`: the script runs as this user, who cannot read the worker's token, home or cache. */
  runAs?: RunAs | undefined;
}

export interface JobRunOutcome {
  status: 'finished' | 'failed' | 'stopped' | 'abandoned' | 'lease-lost';
  exitCode: number | null;
  downloadedBytes: number;
}

/**
 * Runs one leased job the way `studio-lite run` runs a script locally: lay out the workspace, --capture-once inputs
 * and reused artifacts from signed URLs through the blob cache; run the command with Studio's env contract; capture
 * mutable artifacts every interval and at exit with the job token; heartbeat (which also carries stop/kill); then
 * complete with the versions this attempt produced.
 */
export async function runJob(
  lease: LeaseResult,
  cfg: CliConfig,
  log: Logger,
  o: JobRunOptions,
): Promise<JobRunOutcome> {
  const { job } = lease;
  const client = o.api.as(lease.token, job.team);
  const dir = join(o.workDir, `${job.id}-a${job.attempt}`);
  rmSync(dir, { recursive: true, force: true });
  const ws = join(dir, 'workspace');
  mkdirSync(ws, { recursive: true });
  const fetchOpts = { mode: 'copy' as const, log, cacheDir: o.cacheDir, force: true };
  const stats = { downloadedBytes: 0, downloadedBlobs: 0, cachedBlobs: 0 };
  const count = (r: { downloadedBytes: number; downloadedBlobs: number; cachedBlobs: number }) => {
    stats.downloadedBytes += r.downloadedBytes;
    stats.downloadedBlobs += r.downloadedBlobs;
    stats.cachedBlobs += r.cachedBlobs;
  };

  let signalChild: ((sig: NodeJS.Signals) => void) | null = null;
  const session = new ExperimentSession({
    client,
    key: job.id,
    cfg,
    log,
    exclude: [cfg.home, o.workDir, o.cacheDir],
    md5: o.remote,
  });
  let control: JobControl | null = null;
  const onAbandon = () => signalChild?.('SIGKILL');
  o.abandon.addEventListener('abort', onAbandon);
  try {
    count(await fetchArtifact(client, cfg, { experiment: job.id, tag: 'workspace' }, ws, fetchOpts));
    session.map('workspace', ws);
    for (const input of job.spec.inputs) {
      const dest = input.path ? join(ws, input.path) : join(dir, 'inputs', input.tag);
      count(await fetchArtifact(client, cfg, { experiment: job.id, tag: input.tag }, dest, fetchOpts));
      session.map(input.tag, dest);
    }
    for (const r of job.spec.reuse) {
      const dest = join(dir, 'reuse', r.as);
      const got = await fetchArtifact(client, cfg, r, dest, fetchOpts);
      count(got);
      session.map(r.as, dest);
      log.info(
        `studio-lite worker: ${job.id}: reuse ${r.experiment}/${r.tag}@${r.version} as ${r.as} (${got.downloadedBlobs} blobs downloaded)`,
      );
    }

    const defaults = defaultTargets(dir, new Set(job.spec.captures.map((c) => c.tag)));
    const targets: CaptureTarget[] = [...defaults.targets];
    for (const c of job.spec.captures) {
      const path = join(ws, c.path);
      mkdirSync(path, { recursive: true });
      targets.push({ tag: c.tag, path, mutable: true, useIgnoreFile: false });
    }
    for (const t of targets) session.map(t.tag, t.path);
    const env = session.scriptEnv(process.env, join(dir, 'artifacts.json'));
    session.startPeriodic(targets, job.spec.captureInterval, (tag, err) =>
      log.warn(`periodic capture of ${tag} failed: ${err.message}`),
    );

    if (o.runAs) {
      giveFolder(dir, o.runAs);
      Object.assign(env, { HOME: o.runAs.home, USER: o.runAs.name, LOGNAME: o.runAs.name });
    }
    control = startJobControl(client, job, lease.heartbeatSeconds, log, (sig) => signalChild?.(sig));
    const result = await runChild({
      command: job.spec.command[0] as string,
      args: job.spec.command.slice(1),
      cwd: ws,
      env,
      ...(o.runAs ? { uid: o.runAs.uid, gid: o.runAs.gid } : {}),
      outputFile: defaults.outputFile,
      echo: o.echo,
      forwardSignals: false,
      onStart: (signal) => {
        signalChild = signal;
        if (o.abandon.aborted) signal('SIGKILL');
      },
    });
    control.scriptEnded();
    await session.stopPeriodic();
    const exitCode = exitCodeFor(result);
    if (o.abandon.aborted || control.leaseLost()) {
      return {
        status: o.abandon.aborted ? 'abandoned' : 'lease-lost',
        exitCode,
        downloadedBytes: stats.downloadedBytes,
      };
    }
    session.warnings.push(...control.warnings);
    let status: 'finished' | 'failed' | 'stopped' = control.stopMode()
      ? 'stopped'
      : exitCode === 0
        ? 'finished'
        : 'failed';
    const fin = await session.finalCapture(targets, false);
    if (fin.failure && status === 'finished') status = 'failed';
    control.stop();
    await client.completeJob(job.id, {
      status,
      exitCode,
      signal: result.signal,
      warnings: session.warnings,
      artifacts: session.produced,
      stats,
    });
    log.info(`studio-lite worker: ${job.id} ${status} (exit ${exitCode})`);
    return { status, exitCode, downloadedBytes: stats.downloadedBytes };
  } catch (err) {
    if (isStudioError(err, 'E_LEASE_LOST'))
      return { status: 'lease-lost', exitCode: null, downloadedBytes: stats.downloadedBytes };
    // Could not even lay the job out: report it as failed so it does not wait for a lease to lapse.
    log.warn(`studio-lite worker: ${job.id}: ${(err as Error).message}`);
    if (!signalChild) {
      await client
        .completeJob(job.id, {
          status: 'failed',
          exitCode: null,
          warnings: [`worker could not start the run: ${(err as Error).message}`],
          artifacts: session.produced,
          stats,
        })
        .catch(() => {});
    }
    return { status: 'failed', exitCode: null, downloadedBytes: stats.downloadedBytes };
  } finally {
    control?.stop();
    o.abandon.removeEventListener('abort', onAbandon);
    await session.close();
  }
}
