import { join, resolve } from 'node:path';
import {
  assertExperimentKey,
  assertProject,
  type ExperimentStatus,
  isStudioError,
  StudioError,
  TERMINAL_STATUSES,
} from '@studio-lite/functions/contract';
import type { ApiClient } from '../../api-client.ts';
import { BlobCache } from '../../cache/blob-cache.ts';
import { ExitError, withHint } from '../../exit-error.ts';
import { formatBytes, shellCommand } from '../../format.ts';
import { cliPaths } from '../../home/cli-home.ts';
import type { Logger } from '../../logger.ts';
import { startProgress } from '../../progress.ts';
import { type GlobalOpts, withConnection } from '../../shared/with-connection.ts';
import { checkLogdir, defaultLogdir, insideHome, prepareLogdir } from './tb-logdir.ts';
import { findTensorboard, startTensorboard, type TensorboardChild } from './tb-process.ts';
import { type LaidState, syncVersion } from './tb-sync.ts';

/** The artifact every run and job captures for TensorBoard (session/run-targets.ts). */
const TAG = 'tb';
const DEFAULT_PORT = 6006;
const DEFAULT_INTERVAL_S = 5;

export interface TensorboardOpts extends GlobalOpts {
  project?: string;
  port?: number;
  logdir?: string;
  interval?: number;
  once?: boolean;
  json?: boolean;
}

/** One experiment of the selection and what its subfolder holds. */
interface Tracked {
  key: string;
  status: ExperimentStatus | null;
  /** The newest tb version the last look saw; null: none yet. */
  latest: number | null;
  /** The version laid out in its subfolder; null: none yet. */
  version: number | null;
  files: number;
  bytes: number;
  downloadedBytes: number;
  /** Bytes the last layout downloaded (the rest came from the blob cache or was already in place). */
  lastDownloaded: number;
  /** What this process laid out there; null when unknown (the next layout compares by content). */
  state: LaidState | null;
  /** Ended and its last version laid out (or it has none): read no more. */
  done: boolean;
  /** The last line said about it (said again only when it changes). */
  said: string;
}

interface Look {
  status: ExperimentStatus;
  latest: number | null;
}

const ended = (s: ExperimentStatus | null) => s !== null && TERMINAL_STATUSES.includes(s);

/**
 * `studio-lite tensorboard EXP… [--project P]`: lays the latest `tb` version of each experiment into one logdir, a
 * subfolder per experiment key (TensorBoard shows them side by side), through the verified blob cache; then keeps it
 * in sync every --interval seconds while experiments run (and, with --project, as new ones appear) and runs
 * `tensorboard --logdir DIR` on it when TensorBoard is installed, until Ctrl-C. `--once`: one layout, then exit.
 */
export async function tensorboardCommand(keys: string[], opts: TensorboardOpts): Promise<void> {
  for (const k of keys) assertExperimentKey(k);
  if (opts.project !== undefined) assertProject(opts.project);
  if (keys.length === 0 && opts.project === undefined) {
    throw new ExitError(2, 'name experiments, or --project P', 'E_BAD_REQUEST');
  }
  if (opts.json && !opts.once) {
    throw new ExitError(2, '--json goes with --once (one layout, then one JSON object)', 'E_BAD_REQUEST');
  }
  const port = opts.port ?? DEFAULT_PORT;
  const intervalMs = (opts.interval ?? DEFAULT_INTERVAL_S) * 1000;
  await withConnection(
    { ...opts, quiet: Boolean(opts.quiet || opts.json) },
    async ({ client }, cfg, log) => {
      const logdir = resolve(opts.logdir ?? defaultLogdir(cfg.home, keys, opts.project));
      checkLogdir(logdir);
      const sync = new Sync(client, log, [...new Set(keys)], opts.project, logdir, cfg.home);
      // Every named experiment must exist before anything is written.
      const first = await sync.look(true);
      prepareLogdir(logdir, cfg.home);
      const cache = new BlobCache(cliPaths(cfg.home).blobcache);
      try {
        const bin = findTensorboard();
        if (opts.once) {
          await sync.layOut(first, cache, null);
          if (opts.json) {
            const experiments = [...sync.tracked.values()].map((t) => ({
              key: t.key,
              status: t.status,
              version: t.version,
              files: t.files,
              bytes: t.bytes,
              downloadedBytes: t.downloadedBytes,
            }));
            process.stdout.write(`${JSON.stringify({ logdir, experiments, tensorboard: bin }, null, 2)}\n`);
          } else {
            process.stdout.write(`logdir: ${logdir}\n${commandLine(logdir, opts.port)}\n`);
          }
          return;
        }
        await watch(sync, cache, { log, logdir, bin, port, explicitPort: opts.port, intervalMs, first });
      } finally {
        cache.stats.close();
      }
    },
    { transfers: true },
  );
}

/** The command a user runs when TensorBoard is not on PATH (shell-quoted: it can be pasted). */
function commandLine(logdir: string, port: number | undefined): string {
  return shellCommand(['tensorboard', '--logdir', logdir, ...(port === undefined ? [] : ['--port', String(port)])]);
}

/**
 * The long-running part: first layout, then TensorBoard (or the command to run), then a look every interval until
 * SIGINT/SIGTERM, which stop TensorBoard and end the command with exit 0.
 */
async function watch(
  sync: Sync,
  cache: BlobCache,
  o: {
    log: Logger;
    logdir: string;
    bin: string | null;
    port: number;
    explicitPort: number | undefined;
    intervalMs: number;
    first: Map<string, Look>;
  },
): Promise<void> {
  const stop = new AbortController();
  let child: TensorboardChild | null = null;
  let childGone = false;
  const onSignal = () => {
    // A second signal while stopping: TensorBoard does not get its grace period.
    if (stop.signal.aborted) child?.kill();
    stop.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // Wakes the pause early when TensorBoard exits (set while pausing).
  let wake: (() => void) | null = null;
  const pause = (ms: number, untilChildExits: boolean) =>
    new Promise<void>((done) => {
      const end = () => {
        clearTimeout(timer);
        stop.signal.removeEventListener('abort', end);
        wake = null;
        done();
      };
      const timer = setTimeout(end, ms);
      stop.signal.addEventListener('abort', end, { once: true });
      if (untilChildExits) {
        wake = end;
        if (childGone) end();
      }
    });
  try {
    try {
      await sync.layOut(o.first, cache, stop.signal);
    } catch (err) {
      if (stop.signal.aborted) return;
      throw err;
    }
    if (stop.signal.aborted) return;
    process.stdout.write(`logdir: ${o.logdir}\n`);
    if (o.bin !== null) {
      const started = startTensorboard(o.bin, o.logdir, o.port);
      child = started;
      void started.exited.then(() => {
        childGone = true;
        wake?.();
      });
      process.stdout.write(`TensorBoard: http://localhost:${o.port}/\n`);
      o.log.info(`studio-lite: TensorBoard (${o.bin}) runs on the logdir, kept in sync; Ctrl-C stops both`);
    } else {
      process.stdout.write(`${commandLine(o.logdir, o.explicitPort)}\n`);
      o.log.info(
        'studio-lite: tensorboard is not on PATH (pip install tensorboard): run the command above; ' +
          'the logdir is kept in sync until Ctrl-C',
      );
    }
    let lastWarning = '';
    let saidAllDone = false;
    while (!stop.signal.aborted) {
      await pause(o.intervalMs, true);
      if (stop.signal.aborted) break;
      if (childGone) {
        // A Ctrl-C at the terminal reaches TensorBoard too: give our own signal a moment to arrive.
        await pause(500, false);
        if (stop.signal.aborted) break;
        const how = child === null ? null : await child.exited;
        const why = how?.error
          ? `could not start: ${how.error.message}`
          : `exited with ${how?.signal ? `signal ${how.signal}` : `code ${how?.code}`}`;
        throw withHint(
          new StudioError('E_UNAVAILABLE', `tensorboard ${why}`),
          'its output is above; if the port is taken, choose another with --port N',
        );
      }
      if (sync.allDone()) {
        if (!saidAllDone) o.log.info('studio-lite: every experiment has ended and is laid out; Ctrl-C to stop');
        saidAllDone = true;
        continue;
      }
      try {
        await sync.layOut(await sync.look(false), cache, stop.signal);
        lastWarning = '';
      } catch (err) {
        if (stop.signal.aborted) break;
        const msg = `${isStudioError(err) ? `${err.code}: ` : ''}${(err as Error).message}`;
        // Said once until it changes: the next look tries again.
        if (msg !== lastWarning) o.log.warn(`sync failed (${msg}); trying again in ${o.intervalMs / 1000}s`);
        lastWarning = msg;
      }
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    if (child !== null) {
      await child.stop();
      o.log.info('studio-lite: TensorBoard stopped');
    }
  }
}

/** The selection and its subfolders: looks (API reads) and layouts. */
class Sync {
  readonly tracked = new Map<string, Tracked>();
  /** Under $STUDIOML_HOME: laid out private (docs/security.md). */
  private readonly privateDir: boolean;

  constructor(
    private readonly client: ApiClient,
    private readonly log: Logger,
    named: string[],
    private readonly project: string | undefined,
    private readonly logdir: string,
    private readonly home: string,
  ) {
    for (const k of named) this.add(k);
    this.privateDir = insideHome(logdir, home);
  }

  private add(key: string): void {
    if (this.tracked.has(key)) return;
    this.tracked.set(key, {
      key,
      status: null,
      latest: null,
      version: null,
      files: 0,
      bytes: 0,
      downloadedBytes: 0,
      lastDownloaded: 0,
      state: null,
      done: false,
      said: '',
    });
  }

  /** No project to watch for new experiments, and every experiment ended with its last version laid out. */
  allDone(): boolean {
    return this.project === undefined && [...this.tracked.values()].every((t) => t.done);
  }

  /**
   * One look: with --project a listing of the project (newest first; after the first look it stops at the first
   * page holding an experiment already known), which also answers for the experiments it lists; then one `show` per
   * other experiment that is not done. On the first look a named experiment that does not exist is E_NOT_FOUND
   * (exit 2); later, one deleted meanwhile is warned about and left as it is.
   */
  async look(first: boolean): Promise<Map<string, Look>> {
    const seen = new Map<string, Look>();
    if (this.project !== undefined) {
      const found: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await this.client.listExperiments({ project: this.project, limit: first ? 1000 : 100, cursor });
        let known = false;
        for (const e of page.experiments) {
          if (this.tracked.has(e.key)) known = true;
          else found.push(e.key);
          seen.set(e.key, { status: e.status, latest: e.artifacts.find((a) => a.tag === TAG)?.latestVersion ?? null });
        }
        cursor = !first && known ? undefined : (page.nextCursor ?? undefined);
      } while (cursor);
      for (const k of found.reverse()) this.add(k); // oldest first
    }
    for (const t of this.tracked.values()) {
      if (t.done || seen.has(t.key)) continue;
      try {
        const s = await this.client.showExperiment(t.key);
        seen.set(t.key, {
          status: s.experiment.status,
          latest: s.artifacts.find((a) => a.tag === TAG)?.latestVersion ?? null,
        });
      } catch (err) {
        if (!isStudioError(err, 'E_NOT_FOUND')) throw err;
        if (first) throw new ExitError(2, `experiment ${t.key} not found`, 'E_NOT_FOUND');
        t.done = true;
        this.log.warn(`experiment ${t.key} was deleted; its folder in the logdir stays as it was`);
      }
    }
    return seen;
  }

  /** Lays out the new versions a look found, one experiment at a time. */
  async layOut(seen: Map<string, Look>, cache: BlobCache, signal: AbortSignal | null): Promise<void> {
    for (const [key, look] of seen) {
      const t = this.tracked.get(key);
      if (t === undefined) continue;
      t.status = look.status;
      t.latest = look.latest;
      if (t.latest !== null && t.latest !== t.version) await this.layOutOne(t, t.latest, cache, signal);
      t.done = ended(t.status) && (t.latest === null || t.version === t.latest);
      this.say(t);
    }
  }

  private async layOutOne(t: Tracked, version: number, cache: BlobCache, signal: AbortSignal | null): Promise<void> {
    const { version: v } = await this.client.getVersion(t.key, TAG, version);
    // Deleted by the user meanwhile: made again with its marker, so that a later start takes it as its own.
    prepareLogdir(this.logdir, this.home);
    const progress = startProgress(this.log, `tensorboard ${t.key}/${TAG}@${v.version}`);
    // Until this layout ends, the subfolder holds a mix: the next one compares by content.
    const known = t.state;
    t.state = null;
    try {
      const r = await syncVersion({
        client: this.client,
        cache,
        ref: { experiment: t.key, tag: TAG, version: v.version },
        manifest: v.manifest,
        dir: join(this.logdir, t.key),
        known,
        private: this.privateDir,
        log: this.log,
        ...(signal ? { signal } : {}),
        onProgress: (bytes) => progress.update({ phase: 'download', bytes, totalBytes: v.bytes }),
      });
      t.version = v.version;
      t.latest = Math.max(t.latest ?? 0, v.version);
      t.files = r.files;
      t.bytes = r.bytes;
      t.downloadedBytes += r.downloadedBytes;
      t.lastDownloaded = r.downloadedBytes;
      t.state = r.state;
    } finally {
      progress.stop();
    }
  }

  /** One line per experiment on stderr when what there is to say about it changed. */
  private say(t: Tracked): void {
    const line =
      t.version !== null
        ? `${t.key}: ${TAG}@${t.version} laid out (${t.files} files, ${formatBytes(t.bytes)}; ` +
          `${formatBytes(t.lastDownloaded)} downloaded), ${t.status}`
        : ended(t.status)
          ? `${t.key}: ${t.status} without a ${TAG} version`
          : `${t.key}: ${t.status}, waiting for a first ${TAG} version`;
    const what = line.replace(/ \(.*\)/, '');
    if (what === t.said) return;
    t.said = what;
    this.log.info(line);
  }
}
