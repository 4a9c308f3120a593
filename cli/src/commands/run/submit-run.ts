import { hostname } from 'node:os';
import { isAbsolute, relative, sep } from 'node:path';
import { homePaths } from '@studio-lite/functions/adapters/local/local-home.ts';
import { redactArgv, StudioError } from '@studio-lite/functions/contract';
import { Capturer, type CaptureTarget } from '../../artifacts/capture-artifact.ts';
import type { CliConfig } from '../../config.ts';
import type { Connection } from '../../connect.ts';
import type { Logger } from '../../logger.ts';
import { followJob } from '../jobs/follow.ts';
import { gitInfo } from './git-info.ts';
import type { CaptureSpec, ReuseSpec } from './specs.ts';

export interface SubmitOpts {
  queue: string;
  follow: boolean;
  lifetimeSeconds: number | undefined;
  maxDurationSeconds: number | undefined;
  resources: Record<string, number>;
  interval: number;
  project: string | null;
  /** Print `{"experiment", "queue", "status"}` instead of the bare key. */
  json?: boolean;
}

/** A path inside the workspace as POSIX relative path, or null when it lies outside. */
function insideWorkspace(cwd: string, path: string): string | null {
  const rel = relative(cwd, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return null;
  return rel.split(sep).join('/');
}

/**
 * `run --queue`: registers the run as queued, captures the workspace and --capture-once inputs, and queues the job.
 * Returns at once with the key (exit 0), or with --follow streams the output and returns the run's exit code.
 */
export async function submitRun(
  conn: Connection,
  cfg: CliConfig,
  log: Logger,
  run: {
    key: string;
    command: string[];
    cwd: string;
    captures: CaptureSpec[];
    onces: CaptureSpec[];
    reuses: ReuseSpec[];
  },
  o: SubmitOpts,
): Promise<number> {
  const { key, cwd } = run;
  // Checked before anything is registered: the worker lays the workspace out elsewhere, so --capture paths must
  // be inside it.
  const captures = run.captures.map((c) => {
    const rel = insideWorkspace(cwd, c.path);
    if (!rel) {
      throw new StudioError(
        'E_BAD_PATH',
        `--capture ${c.path}:${c.tag}: with --queue, capture paths must be inside the working directory`,
      );
    }
    return { tag: c.tag, path: rel };
  });
  const inputs = run.onces.map((c) => ({ tag: c.tag, path: insideWorkspace(cwd, c.path) }));
  const created = await conn.client.createExperiment({
    key,
    project: o.project,
    command: redactArgv(run.command),
    cwd,
    host: hostname(),
    git: gitInfo(cwd),
    reuse: run.reuses.map((r) => ({
      experiment: r.experiment,
      tag: r.tag,
      version: r.version,
      alias: r.alias,
      as: r.as,
    })),
    queued: true,
  });
  const capturer = new Capturer(conn.client, key, cfg, log, [homePaths(cfg.home).home], {
    md5: conn.mode === 'remote',
  });
  try {
    const targets: CaptureTarget[] = [
      { tag: 'workspace', path: cwd, mutable: false, useIgnoreFile: true },
      ...run.onces.map((c) => ({ tag: c.tag, path: c.path, mutable: false, useIgnoreFile: false })),
    ];
    for (const t of targets) await capturer.capture(t);
    const { job } = await conn.client.submitJob(key, {
      queue: o.queue,
      spec: { command: run.command, captures, inputs, captureInterval: o.interval, resources: o.resources },
      ...(o.lifetimeSeconds ? { lifetimeSeconds: o.lifetimeSeconds } : {}),
      ...(o.maxDurationSeconds ? { maxDurationSeconds: o.maxDurationSeconds } : {}),
    });
    log.info(
      `studio-lite: experiment ${key} queued on ${job.queue}` +
        (created.lineage.length
          ? ` (reusing ${created.lineage.map((l) => `${l.experiment}/${l.tag}@${l.version}`).join(', ')})`
          : ''),
    );
  } catch (err) {
    await conn.client
      .finishExperiment(key, {
        status: 'failed',
        exitCode: null,
        warnings: [`queueing failed: ${(err as Error).message}`],
      })
      .catch(() => {});
    throw err;
  } finally {
    capturer.close();
  }
  if (!o.follow) {
    process.stdout.write(
      o.json ? `${JSON.stringify({ experiment: key, queue: o.queue, status: 'queued' })}\n` : `${key}\n`,
    );
    return 0;
  }
  return followJob(conn.client, key, log);
}
