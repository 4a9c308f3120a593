import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { homePaths } from '@studio-lite/functions/adapters/local/local-home.ts';
import { isStudioError, type LeaseResult } from '@studio-lite/functions/contract';
import { ApiClient } from '../../api-client.ts';
import { Capturer, type CaptureTarget, OUTPUT_CAPTURE_SECONDS } from '../../artifacts/capture-artifact.ts';
import { fetchArtifact } from '../../artifacts/fetch-artifact.ts';
import type { CliConfig } from '../../config.ts';
import type { Logger } from '../../logger.ts';
import { scriptEnv } from '../run/artifact-env.ts';
import { exitCodeFor, runChild } from '../run/child.ts';
import { giveFolder, type RunAs } from './run-as.ts';

export interface JobRunOptions {
  /** Base URL of the API the lease came from; the job token talks to the same one. */
  apiUrl: string;
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
  const client = new ApiClient(o.apiUrl, lease.token, job.team);
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

  const mapping: Record<string, string> = {};
  const warnings: string[] = [];
  let signalChild: ((sig: NodeJS.Signals) => void) | null = null;
  let stopMode: 'stop' | 'kill' | null = null;
  let leaseLost = false;
  const produced: Record<string, number> = {};

  const capturer = new Capturer(client, job.id, cfg, log, [homePaths(cfg.home).home, o.workDir, o.cacheDir], {
    md5: o.remote,
  });
  const heartbeatMs = lease.heartbeatSeconds * 1000;
  let beat: NodeJS.Timeout | null = null;
  let maxTimer: NodeJS.Timeout | null = null;
  let loop: NodeJS.Timeout | undefined;
  let outputLoop: NodeJS.Timeout | undefined;
  const onAbandon = () => signalChild?.('SIGKILL');
  o.abandon.addEventListener('abort', onAbandon);
  try {
    count(await fetchArtifact(client, cfg, { experiment: job.id, tag: 'workspace' }, ws, fetchOpts));
    mapping.workspace = ws;
    for (const input of job.spec.inputs) {
      const dest = input.path ? join(ws, input.path) : join(dir, 'inputs', input.tag);
      count(await fetchArtifact(client, cfg, { experiment: job.id, tag: input.tag }, dest, fetchOpts));
      mapping[input.tag] = dest;
    }
    for (const r of job.spec.reuse) {
      const dest = join(dir, 'reuse', r.as);
      const got = await fetchArtifact(client, cfg, r, dest, fetchOpts);
      count(got);
      mapping[r.as] = dest;
      log.info(
        `studio-lite worker: ${job.id}: reuse ${r.experiment}/${r.tag}@${r.version} as ${r.as} (${got.downloadedBlobs} blobs downloaded)`,
      );
    }

    const outputFile = join(dir, 'output');
    writeFileSync(outputFile, '');
    const targets: CaptureTarget[] = [];
    const userTags = new Set(job.spec.captures.map((c) => c.tag));
    for (const [tag, path] of [
      ['output', outputFile],
      ['modeldir', join(dir, 'modeldir')],
      ['tb', join(dir, 'tb')],
    ] as const) {
      if (userTags.has(tag)) continue;
      if (tag !== 'output') mkdirSync(path, { recursive: true });
      targets.push({ tag, path, mutable: true, useIgnoreFile: false });
    }
    for (const c of job.spec.captures) {
      const path = join(ws, c.path);
      mkdirSync(path, { recursive: true });
      targets.push({ tag: c.tag, path, mutable: true, useIgnoreFile: false });
    }
    for (const t of targets) mapping[t.tag] = t.path;

    const env = scriptEnv(process.env, {
      home: cfg.home,
      experiment: job.id,
      mapping,
      mappingFile: join(dir, 'artifacts.json'),
    });
    const record = (r: { tag: string; version: number | null }) => {
      if (r.version !== null) produced[r.tag] = r.version;
    };
    const periodic = (list: CaptureTarget[]) => () => {
      for (const t of list)
        capturer
          .capture(t)
          .then(record, (err: Error) => log.warn(`periodic capture of ${t.tag} failed: ${err.message}`));
    };
    loop = setInterval(periodic(targets.filter((t) => t.tag !== 'output')), job.spec.captureInterval * 1000);
    loop.unref();
    // `output` is what the web UI, `run --follow` and `logs -f` show: captured every OUTPUT_CAPTURE_SECONDS (a
    // version only when it grew).
    const outputTarget = targets.filter((t) => t.tag === 'output');
    outputLoop = setInterval(periodic(outputTarget), Math.min(job.spec.captureInterval, OUTPUT_CAPTURE_SECONDS) * 1000);
    outputLoop.unref();

    const stopChild = (mode: 'stop' | 'kill', why: string) => {
      if (stopMode === 'kill' || stopMode === mode) return;
      stopMode = mode;
      warnings.push(`stopped by the worker: ${why}`);
      log.info(`studio-lite worker: ${job.id}: ${why}`);
      signalChild?.(mode === 'kill' ? 'SIGKILL' : 'SIGTERM');
    };
    beat = setInterval(() => {
      client.heartbeat(job.id).then(
        (h) => {
          if (h.stop) stopChild(h.stop, `${h.stop} requested (${h.stopReason ?? 'by the user'})`);
        },
        (err) => {
          if (isStudioError(err, 'E_LEASE_LOST') || isStudioError(err, 'E_TOKEN_EXPIRED')) {
            leaseLost = true;
            log.warn(`studio-lite worker: ${job.id}: lease lost; killing the run (another worker may take it)`);
            signalChild?.('SIGKILL');
          } else log.warn(`studio-lite worker: ${job.id}: heartbeat failed: ${(err as Error).message}`);
        },
      );
    }, heartbeatMs);
    if (job.maxDurationSeconds) {
      const left = Date.parse(job.startedAt ?? new Date().toISOString()) + job.maxDurationSeconds * 1000 - Date.now();
      maxTimer = setTimeout(
        () => stopChild('kill', `ran longer than --max-duration ${job.maxDurationSeconds} s`),
        Math.max(left, 0),
      );
    }

    if (o.runAs) {
      giveFolder(dir, o.runAs);
      Object.assign(env, { HOME: o.runAs.home, USER: o.runAs.name, LOGNAME: o.runAs.name });
    }
    const result = await runChild({
      command: job.spec.command[0] as string,
      args: job.spec.command.slice(1),
      cwd: ws,
      env,
      ...(o.runAs ? { uid: o.runAs.uid, gid: o.runAs.gid } : {}),
      outputFile,
      echo: o.echo,
      forwardSignals: false,
      onStart: (signal) => {
        signalChild = signal;
        if (o.abandon.aborted) signal('SIGKILL');
      },
    });
    clearInterval(loop);
    clearInterval(outputLoop);
    if (maxTimer) clearTimeout(maxTimer);
    const exitCode = exitCodeFor(result);
    if (o.abandon.aborted || leaseLost) {
      if (beat) clearInterval(beat);
      return {
        status: o.abandon.aborted ? 'abandoned' : 'lease-lost',
        exitCode,
        downloadedBytes: stats.downloadedBytes,
      };
    }
    let status: 'finished' | 'failed' | 'stopped' = stopMode ? 'stopped' : exitCode === 0 ? 'finished' : 'failed';
    for (const t of targets) {
      try {
        const r = await capturer.capture(t);
        record(r);
        warnings.push(...r.skipped);
      } catch (err) {
        warnings.push(`final capture of ${t.tag} failed: ${(err as Error).message}`);
        if (status === 'finished') status = 'failed';
      }
    }
    if (beat) clearInterval(beat);
    beat = null;
    await client.completeJob(job.id, {
      status,
      exitCode,
      signal: result.signal,
      warnings,
      artifacts: produced,
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
          artifacts: produced,
          stats,
        })
        .catch(() => {});
    }
    return { status: 'failed', exitCode: null, downloadedBytes: stats.downloadedBytes };
  } finally {
    if (beat) clearInterval(beat);
    clearInterval(loop);
    clearInterval(outputLoop);
    if (maxTimer) clearTimeout(maxTimer);
    o.abandon.removeEventListener('abort', onAbandon);
    capturer.close();
  }
}
