import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { homePaths } from '@studio-lite/functions/adapters/local/local-home.ts';
import { isStudioError } from '@studio-lite/functions/core/errors.ts';
import { assertQueue } from '@studio-lite/functions/core/jobs.ts';
import { assertExperimentKey } from '@studio-lite/functions/core/names.ts';
import { redactArgv } from '@studio-lite/functions/core/redact.ts';
import { Capturer, type CaptureTarget, OUTPUT_CAPTURE_SECONDS } from '../../artifacts/capture-artifact.ts';
import { fetchArtifact } from '../../artifacts/fetch-artifact.ts';
import { loadConfig } from '../../config.ts';
import { connect } from '../../connect.ts';
import { parseDuration, parseResources } from '../../duration.ts';
import { ExitError } from '../../exit-error.ts';
import { createLogger, type Logger } from '../../logger.ts';
import { scriptEnv } from './artifact-env.ts';
import { exitCodeFor, runChild } from './child.ts';
import { gitInfo } from './git-info.ts';
import { commandFromArgs } from './resolve-command.ts';
import { buildRunSummary, formatRunSummary, latestVersions } from './run-summary.ts';
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
  const cfg = loadConfig(opts.config);
  const log = createLogger({ quiet: opts.quiet, debug: opts.debug });
  const cwd = process.cwd();
  const interval = opts.captureInterval ?? cfg.captureInterval;
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
    const created = await conn.client.createExperiment({
      key,
      project: opts.project ?? null,
      // The record never holds secrets from the command line (the API redacts again before storing).
      command: redactArgv(command),
      cwd,
      host: hostname(),
      git: gitInfo(cwd),
      reuse: reuses.map((r) => ({ experiment: r.experiment, tag: r.tag, version: r.version, as: r.as })),
      resume: Boolean(opts.resume),
    });
    log.info(`studio-lite: experiment ${key}${created.resumed ? ' (resumed)' : ''}`);
    const before = created.resumed ? latestVersions(await conn.client.showExperiment(key)) : new Map<string, number>();

    const expDir = join(homePaths(cfg.home).experiments, key);
    const userTags = new Set([...captures, ...onces].map((c) => c.tag).concat(reuses.map((r) => r.as)));
    const defaults: CaptureTarget[] = [];
    const add = (tag: string, path: string, mutable: boolean, ignore = false) => {
      if (!userTags.has(tag)) defaults.push({ tag, path, mutable, useIgnoreFile: ignore });
    };
    mkdirSync(expDir, { recursive: true });
    const outputFile = join(expDir, 'output');
    writeFileSync(outputFile, '', { flag: 'a' });
    add('workspace', cwd, false, true);
    add('output', outputFile, true);
    if (!userTags.has('modeldir')) mkdirSync(join(expDir, 'modeldir'), { recursive: true });
    if (!userTags.has('tb')) mkdirSync(join(expDir, 'tb'), { recursive: true });
    add('modeldir', join(expDir, 'modeldir'), true);
    add('tb', join(expDir, 'tb'), true);
    const targets: CaptureTarget[] = [
      ...defaults,
      ...captures.map((c) => ({ ...c, useIgnoreFile: false })),
      ...onces.map((c) => ({ ...c, useIgnoreFile: false })),
    ];
    const mapping: Record<string, string> = Object.fromEntries(targets.map((t) => [t.tag, t.path]));
    // No progress bar while the script runs: it would be drawn into the script's own lines.
    const scriptRunning = { now: false };
    const capLog: Logger = Object.create(log, { progress: { get: () => log.progress && !scriptRunning.now } });
    const capturer = new Capturer(conn.client, key, cfg, capLog, [homePaths(cfg.home).home], {
      md5: conn.mode === 'remote',
    });
    const warnings: string[] = [];

    let exitCode = 1;
    let status: 'finished' | 'failed' | 'stopped' = 'failed';
    let signal: string | null = null;
    try {
      for (const [i, r] of created.lineage.entries()) {
        const dest = join(expDir, 'reuse', r.as);
        // Copies by default (clones where the file system has them): the script may rewrite them. The folder is
        // the run's own, so a resumed run overwrites what its first attempt changed there.
        const got = await fetchArtifact(conn.client, cfg, r, dest, { mode: cfg.materialize, log, force: true });
        mapping[r.as] = dest;
        log.info(
          `studio-lite: reuse ${reuses[i]?.experiment}/${r.tag}@${r.version} as ${r.as} (${got.downloadedBlobs} blobs downloaded)`,
        );
      }
      for (const t of targets.filter((x) => !x.mutable)) {
        try {
          warnings.push(...(await capturer.capture(t)).skipped);
        } catch (err) {
          // A resumed run keeps the immutable snapshot of its first run.
          if (!(created.resumed && isStudioError(err, 'E_IMMUTABLE'))) throw err;
          log.info(`studio-lite: ${t.tag} is immutable; keeping the version from the first run`);
        }
      }

      const env = scriptEnv(process.env, {
        home: cfg.home,
        experiment: key,
        mapping,
        mappingFile: join(expDir, 'artifacts.json'),
      });
      const mutable = targets.filter((t) => t.mutable);
      const onError = (err: Error) => log.warn(`periodic capture failed: ${err.message}`);
      const loop = capturer.every(
        interval * 1000,
        mutable.filter((t) => t.tag !== 'output'),
        onError,
      );
      // `output` feeds the web UI's log tail and `logs -f`: captured more often (a version only when it grew).
      const outputLoop = capturer.every(
        Math.min(interval, OUTPUT_CAPTURE_SECONDS) * 1000,
        mutable.filter((t) => t.tag === 'output'),
        onError,
      );
      scriptRunning.now = true;
      const result = await runChild({
        command: command[0] as string,
        args: command.slice(1),
        cwd,
        env,
        outputFile,
        echo: true,
        stdoutEcho: opts.json ? process.stderr : process.stdout,
      }).finally(() => {
        scriptRunning.now = false;
      });
      await loop.stop();
      await outputLoop.stop();
      exitCode = exitCodeFor(result);
      signal = result.signal;
      status = result.stoppedBy ? 'stopped' : exitCode === 0 ? 'finished' : 'failed';

      // Final capture: never skipped; a failure is reported and fails the run.
      await withSignalsDeferred(log, async () => {
        for (const t of mutable) {
          try {
            warnings.push(...(await capturer.capture(t)).skipped);
          } catch (err) {
            const msg = `final capture of ${t.tag} failed: ${(err as Error).message}`;
            log.warn(msg);
            warnings.push(msg);
            if (status === 'finished') status = 'failed';
            if (exitCode === 0) exitCode = 1;
          }
        }
      });
    } catch (err) {
      warnings.push(`run aborted: ${(err as Error).message}`);
      await conn.client
        .finishExperiment(key, { status: 'failed', exitCode: null, warnings })
        .catch((e) => log.warn(`could not record failure: ${(e as Error).message}`));
      throw err;
    }
    await conn.client.finishExperiment(key, { status, exitCode, signal, warnings });
    const summary = buildRunSummary(await conn.client.showExperiment(key), before);
    if (opts.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else if (!log.quiet) process.stderr.write(formatRunSummary(summary));
    return exitCode;
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

/** While the final capture runs, the first SIGINT/SIGTERM only warns; a second one aborts at once. */
async function withSignalsDeferred(log: ReturnType<typeof createLogger>, fn: () => Promise<void>): Promise<void> {
  let count = 0;
  const h = () => {
    count += 1;
    if (count === 1) log.warn('finishing the final capture; signal again to abort it');
    else {
      log.warn('final capture aborted');
      process.exit(130);
    }
  };
  process.on('SIGINT', h);
  process.on('SIGTERM', h);
  try {
    await fn();
  } finally {
    process.off('SIGINT', h);
    process.off('SIGTERM', h);
  }
}
