import { randomBytes } from 'node:crypto';
import { assertExperimentKey, assertQueue, isStudioError } from '@studio-lite/functions/contract';
import { loadConfig } from '../../config.ts';
import { connect } from '../../connect.ts';
import { parseDuration, parseResources } from '../../duration.ts';
import { ExitError, withHint } from '../../exit-error.ts';
import { createLogger } from '../../logger.ts';
import { directRun } from './direct-run.ts';
import { runBackend } from './offline.ts';
import { commandFromArgs } from './resolve-command.ts';
import { assertUniqueTags, parseCaptureSpec, parseReuseSpec } from './specs.ts';
import { submitRun } from './submit-run.ts';

export interface RunOpts {
  config?: string;
  quiet?: boolean;
  debug?: boolean;
  capture: string[];
  captureOnce: string[];
  reuse: string[];
  experiment?: string;
  project?: string;
  captureInterval?: number;
  resume?: boolean;
  queue?: string;
  follow?: boolean;
  lifetime?: string;
  maxDuration?: string;
  resources?: string[];
  json?: boolean;
  offline?: boolean;
}

/** Default key: sortable time stamp plus a short random id, like Studio. */
function defaultKey(): string {
  const t = new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
  return `${t}-${randomBytes(3).toString('hex')}`;
}

/** `studio-lite run`: returns the script's exit code (or 2 for bad input before the script started). */
export async function runCommand(
  script: string | undefined,
  args: string[],
  opts: RunOpts,
  raw: string[],
): Promise<number> {
  const loaded = await loadConfig(opts.config);
  const log = createLogger({ quiet: opts.quiet, debug: opts.debug });
  const cwd = process.cwd();
  const interval = opts.captureInterval ?? loaded.captureInterval;
  if (!Number.isFinite(interval) || interval <= 0)
    throw new ExitError(2, '--capture-interval must be a positive number', 'E_BAD_REQUEST');

  // Validate every flag before anything is registered, so bad input stores nothing.
  const captures = opts.capture.map((s) => parseCaptureSpec(s, true, cwd));
  const onces = opts.captureOnce.map((s) => parseCaptureSpec(s, false, cwd));
  const reuses = opts.reuse.map(parseReuseSpec);
  assertUniqueTags([...captures, ...onces].map((c) => c.tag).concat(reuses.map((r) => r.as)));
  const key = assertExperimentKey(opts.experiment ?? defaultKey());
  const queued = opts.queue ? queueOptions(opts, interval) : null;
  const command = commandFromArgs(script, args, raw, { cwd, path: process.env.PATH, checkPath: !queued });

  const backend = await runBackend(loaded, { offline: Boolean(opts.offline), queued: queued !== null }, log);
  const cfg = backend.cfg;
  const conn = await connect(cfg);
  try {
    if (queued) {
      return await submitRun(
        conn,
        cfg,
        log,
        { key, command, cwd, captures, onces, reuses },
        {
          ...queued,
          project: opts.project ?? null,
        },
      );
    }
    return await directRun(
      conn,
      cfg,
      log,
      { key, command, cwd, interval, captures, onces, reuses },
      {
        project: opts.project ?? null,
        resume: Boolean(opts.resume),
        json: Boolean(opts.json),
        ...(backend.markPending ? { onRegistered: () => backend.markPending?.(key) } : {}),
      },
    );
  } catch (err) {
    if (cfg.apiUrl && isStudioError(err, 'E_UNAVAILABLE') && /cannot reach/.test(err.message)) {
      throw withHint(
        err,
        'run with --offline (or `offline: auto` in config) to capture here and `studio-lite push --pending` later',
      );
    }
    throw err;
  } finally {
    await conn.close();
  }
}

/** The --queue flags, validated before anything is registered. */
function queueOptions(opts: RunOpts, interval: number) {
  if (opts.resume) throw new ExitError(2, '--resume cannot be combined with --queue', 'E_BAD_REQUEST');
  if (opts.json && opts.follow) throw new ExitError(2, '--json cannot be combined with --follow', 'E_BAD_REQUEST');
  return {
    queue: assertQueue(opts.queue as string),
    follow: Boolean(opts.follow),
    json: Boolean(opts.json),
    lifetimeSeconds: opts.lifetime === undefined ? undefined : parseDuration(opts.lifetime, '--lifetime'),
    maxDurationSeconds: opts.maxDuration === undefined ? undefined : parseDuration(opts.maxDuration, '--max-duration'),
    resources: parseResources(opts.resources ?? []),
    interval,
  };
}
