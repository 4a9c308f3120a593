import { join } from 'node:path';
import { type CreateExperimentResponse, isStudioError } from '@studio-lite/functions/contract';
import { fetchArtifact } from '../../artifacts/fetch-artifact.ts';
import type { CliConfig } from '../../config.ts';
import type { Connection } from '../../connect.ts';
import { ExitError } from '../../exit-error.ts';
import { cliPaths } from '../../home/cli-home.ts';
import { tightenTree } from '../../home/private-files.ts';
import type { Logger } from '../../logger.ts';
import { exitCodeFor, runChild } from '../../session/child.ts';
import { ExperimentSession, registrationBody } from '../../session/experiment-session.ts';
import { runTargets } from '../../session/run-targets.ts';
import { startRunHeartbeat } from './run-heartbeat.ts';
import { buildRunSummary, formatRunSummary, latestVersions } from './run-summary.ts';
import type { CaptureSpec, ReuseSpec } from './specs.ts';

export interface DirectRun {
  key: string;
  command: string[];
  cwd: string;
  interval: number;
  captures: CaptureSpec[];
  onces: CaptureSpec[];
  reuses: ReuseSpec[];
}

/** Registers the run (or a new attempt with --resume). A refused resume is the user's to resolve: exit 2. */
async function register(conn: Connection, run: DirectRun, o: { project: string | null; resume: boolean }) {
  try {
    return await conn.client.createExperiment(registrationBody(run, o));
  } catch (err) {
    if (o.resume && isStudioError(err, 'E_CONFLICT')) throw new ExitError(2, err.message, 'E_CONFLICT');
    throw err;
  }
}

/**
 * `studio-lite run` without --queue: lays out reuses, captures the immutable inputs, runs the script while a
 * heartbeat keeps the run's lease and mutable artifacts are captured every interval, then captures once more and
 * records the script's own status and exit code. Returns the script's exit code; a failed final capture is a
 * warning on the record and makes the CLI fail with that error (exit 1 when the script itself succeeded).
 */
export async function directRun(
  conn: Connection,
  cfg: CliConfig,
  log: Logger,
  run: DirectRun,
  o: { project: string | null; resume: boolean; json: boolean; onRegistered?: () => void },
): Promise<number> {
  const { key, cwd } = run;
  const created: CreateExperimentResponse = await register(conn, run, o);
  o.onRegistered?.();
  const attempt = created.experiment.attempt ?? 1;
  log.info(`studio-lite: experiment ${key}${created.resumed ? ` (resumed, attempt ${attempt})` : ''}`);
  const heartbeat = startRunHeartbeat(conn.client, key, attempt, created.leaseSeconds, log);
  const before = created.resumed ? latestVersions(await conn.client.showExperiment(key)) : new Map<string, number>();

  const expDir = join(cliPaths(cfg.home).experiments, key);
  const { targets, outputFile } = runTargets(
    expDir,
    cwd,
    [...run.captures, ...run.onces],
    run.reuses.map((r) => r.as),
  );
  // No progress bar while the script runs: it would be drawn into the script's own lines.
  const scriptRunning = { now: false };
  const capLog: Logger = Object.create(log, { progress: { get: () => log.progress && !scriptRunning.now } });
  const session = new ExperimentSession({
    client: conn.client,
    key,
    cfg,
    log: capLog,
    exclude: [cfg.home],
    md5: conn.mode === 'remote',
  });
  for (const t of targets) session.map(t.tag, t.path);
  const finish = (body: {
    status: 'finished' | 'failed' | 'stopped';
    exitCode: number | null;
    signal?: string | null;
  }) => conn.client.finishExperiment(key, { ...body, warnings: session.warnings, attempt });
  // Whatever stops the run before its end is recorded (failed) instead of leaving it running until its lease lapses.
  const abort = async (err: unknown) => {
    heartbeat.stop();
    await session.close();
    session.warnings.push(`run aborted: ${(err as Error).message}`);
    await finish({ status: 'failed', exitCode: null }).catch((e) =>
      log.warn(`could not record failure: ${(e as Error).message}`),
    );
    await tightenTree(expDir).catch(() => 0);
    return err;
  };
  let env: NodeJS.ProcessEnv;
  try {
    for (const [i, r] of created.lineage.entries()) {
      const dest = join(expDir, 'reuse', r.as);
      // Copies by default (clones where the file system has them): the script may rewrite them. The folder is
      // the run's own, so a resumed run overwrites what its first attempt changed there.
      const got = await fetchArtifact(conn.client, cfg, r, dest, { mode: cfg.materialize, log, force: true });
      session.map(r.as, dest);
      log.info(
        `studio-lite: reuse ${run.reuses[i]?.experiment}/${r.tag}@${r.version} as ${r.as} (${got.downloadedBlobs} blobs downloaded)`,
      );
    }
    for (const t of targets.filter((x) => !x.mutable)) {
      try {
        session.warnings.push(...(await session.capture(t)).skipped);
      } catch (err) {
        // A resumed run keeps the immutable snapshot of its first run.
        if (!(created.resumed && isStudioError(err, 'E_IMMUTABLE'))) throw err;
        log.info(`studio-lite: ${t.tag} is immutable; keeping the version from the first run`);
      }
    }
    env = session.scriptEnv(process.env, join(expDir, 'artifacts.json'));
  } catch (err) {
    throw await abort(err);
  }

  session.startPeriodic(targets, run.interval, (_tag, err) => {
    if (!heartbeat.takenOver()) log.warn(`periodic capture failed: ${err.message}`);
  });
  let result: Awaited<ReturnType<typeof runChild>>;
  scriptRunning.now = true;
  try {
    result = await runChild({
      command: run.command[0] as string,
      args: run.command.slice(1),
      cwd,
      env,
      outputFile,
      echo: true,
      stdoutEcho: o.json ? process.stderr : process.stdout,
    }).finally(() => {
      scriptRunning.now = false;
    });
  } catch (err) {
    throw await abort(err);
  }
  if (result.outputError) session.warnings.push(`output capture stopped: ${result.outputError}`);
  await session.stopPeriodic();
  const exitCode = exitCodeFor(result);
  const status = result.stoppedBy ? 'stopped' : exitCode === 0 ? 'finished' : 'failed';

  // Renew first: after a long sleep the lease may have lapsed, and a run that is still the current attempt takes
  // its experiment back before its last capture.
  await heartbeat.beat();
  const taken = heartbeat.takenOver();
  const failure = taken ? null : (await session.finalCapture(targets, true)).failure;
  heartbeat.stop();
  await session.close();
  // The script wrote modeldir/tb (and reuse copies keep their captured modes) under its own umask; the home stays
  // private.
  await tightenTree(expDir).catch(() => 0);
  if (taken) throw new ExitError(exitCode || 1, `${taken}; the final capture was skipped`, 'E_LEASE_LOST');
  await finish({ status, exitCode, signal: result.signal });
  const summary = buildRunSummary(await conn.client.showExperiment(key), before);
  if (o.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
  else if (!log.quiet) process.stderr.write(formatRunSummary(summary));
  if (failure) {
    const code = isStudioError(failure.error) ? failure.error.code : 'E_INTERNAL';
    throw new ExitError(exitCode || 1, `final capture of ${failure.tag} failed: ${failure.error.message}`, code);
  }
  return exitCode;
}
