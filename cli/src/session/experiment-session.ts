import { hostname } from 'node:os';
import { type CreateExperimentBody, redactArgv } from '@studio-lite/functions/contract';
import type { ApiClient } from '../api-client.ts';
import {
  type CaptureOutcome,
  Capturer,
  type CaptureTarget,
  OUTPUT_CAPTURE_SECONDS,
} from '../artifacts/capture-artifact.ts';
import type { CliConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import { scriptEnv } from './artifact-env.ts';
import { type FinalCapture, finalCapture } from './final-capture.ts';
import { gitInfo } from './git-info.ts';

/** What a run registers: the same body for `run` and `run --queue`. */
export function registrationBody(
  run: {
    key: string;
    command: string[];
    cwd: string;
    reuses: { experiment: string; tag: string; version?: number | undefined; alias?: string | undefined; as: string }[];
  },
  o: { project: string | null; resume?: boolean; queued?: boolean },
): CreateExperimentBody {
  return {
    key: run.key,
    project: o.project,
    // The record never holds secrets from the command line (the API redacts again before storing).
    command: redactArgv(run.command),
    cwd: run.cwd,
    host: hostname(),
    git: gitInfo(run.cwd),
    reuse: run.reuses.map((r) => ({
      experiment: r.experiment,
      tag: r.tag,
      version: r.version,
      alias: r.alias,
      as: r.as,
    })),
    ...(o.resume === undefined ? {} : { resume: o.resume }),
    ...(o.queued === undefined ? {} : { queued: true }),
  };
}

export interface SessionOptions {
  client: ApiClient;
  /** The experiment (a job's id is its experiment key). */
  key: string;
  cfg: CliConfig;
  log: Logger;
  /** Absolute folders (the home, a worker's cache) left out when they sit inside a captured folder. */
  exclude: string[];
  /** Also send MD5s (deployments: storage that checks them refuses wrong bytes at upload). */
  md5: boolean;
}

/**
 * One experiment's capture lifecycle on this machine, shared by `run`, `run --queue` and the worker: the targets and
 * the script's view of them (mapping + env), captures (each committed version remembered per tag), periodic capture
 * of the mutable targets while the script runs, the final capture, and close. The caller registers, runs the script
 * and records the end (finish or complete), because those differ between a direct run and a job.
 */
export class ExperimentSession {
  readonly key: string;
  /** Warnings for the run's record: skipped files, failed captures, why it stopped. */
  readonly warnings: string[] = [];
  /** The latest version this session committed, per tag (a job's result). */
  readonly produced: Record<string, number> = {};
  /** Tag -> path the script sees (STUDIOML_ARTIFACT_<TAG>, the mapping file). */
  readonly mapping: Record<string, string> = {};
  private readonly capturer: Capturer;
  private readonly log: Logger;
  private readonly home: string;
  private loops: { stop(): Promise<void> }[] = [];
  private closed = false;

  constructor(o: SessionOptions) {
    this.key = o.key;
    this.log = o.log;
    this.home = o.cfg.home;
    this.capturer = new Capturer(o.client, o.key, o.cfg, o.log, o.exclude, { md5: o.md5 });
  }

  /** Makes `path` the script's view of `tag`. */
  map(tag: string, path: string): void {
    this.mapping[tag] = path;
  }

  /** Captures one target (serialised with every other capture of the session) and remembers its version. */
  async capture(t: CaptureTarget): Promise<CaptureOutcome> {
    const r = await this.capturer.capture(t);
    if (r.version !== null) this.produced[t.tag] = r.version;
    return r;
  }

  /** Studio's env contract over `base`: writes the mapping file and names it, one variable per tag. */
  scriptEnv(base: NodeJS.ProcessEnv, mappingFile: string): NodeJS.ProcessEnv {
    return scriptEnv(base, { home: this.home, experiment: this.key, mapping: this.mapping, mappingFile });
  }

  /**
   * Captures the mutable `targets` every `intervalSeconds` until stopPeriodic(); `output` (the web UI's log tail,
   * `logs -f`, `run --follow`) every OUTPUT_CAPTURE_SECONDS at most, a version only when it grew.
   */
  startPeriodic(targets: CaptureTarget[], intervalSeconds: number, onError: (tag: string, err: Error) => void): void {
    const mutable = targets.filter((t) => t.mutable);
    const others = mutable.filter((t) => t.tag !== 'output');
    const output = mutable.filter((t) => t.tag === 'output');
    this.loops.push(
      this.every(intervalSeconds * 1000, others, onError),
      this.every(Math.min(intervalSeconds, OUTPUT_CAPTURE_SECONDS) * 1000, output, onError),
    );
  }

  /** Stops the periodic captures and waits for one in flight. */
  async stopPeriodic(): Promise<void> {
    const loops = this.loops.splice(0);
    for (const l of loops) await l.stop();
  }

  /**
   * Captures every mutable target once more after the script exited (final-capture.ts); warnings go on the record.
   * `deferSignals`: a first SIGINT/SIGTERM only warns meanwhile (a direct run; a worker handles signals itself).
   */
  async finalCapture(targets: CaptureTarget[], deferSignals: boolean): Promise<FinalCapture> {
    await this.stopPeriodic();
    const fin = await finalCapture(
      (t) => this.capture(t),
      targets.filter((t) => t.mutable),
      this.log,
      deferSignals,
    );
    this.warnings.push(...fin.warnings);
    return fin;
  }

  /** Stops the periodic captures, waits for a capture in flight, and closes the stat cache. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stopPeriodic();
    this.capturer.close();
  }

  /** The one periodic loop: a target whose previous capture is still queued or running skips a tick. */
  private every(ms: number, targets: CaptureTarget[], onError: (tag: string, err: Error) => void) {
    const busy = new Set<CaptureTarget>();
    let last: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      for (const t of targets) {
        if (busy.has(t)) continue;
        busy.add(t);
        last = this.capture(t)
          .catch((err: Error) => onError(t.tag, err))
          .finally(() => busy.delete(t));
      }
    }, ms);
    timer.unref();
    return {
      stop: async () => {
        clearInterval(timer);
        await last;
      },
    };
  }
}
