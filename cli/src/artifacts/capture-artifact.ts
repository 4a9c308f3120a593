import { relative, sep } from 'node:path';
import { homePaths } from '@studio-lite/functions/adapters/local/local-home.ts';
import { LIMITS } from '@studio-lite/functions/api/schemas.ts';
import { isStudioError, StudioError } from '@studio-lite/functions/core/errors.ts';
import { manifestDigest, manifestTotals } from '@studio-lite/functions/core/manifest.ts';
import type { CaptureStats } from '@studio-lite/functions/core/model.ts';
import type { ApiClient } from '../api-client.ts';
import { snapshot } from '../capture/snapshot.ts';
import { openStatCache, type StatCache } from '../capture/stat-cache.ts';
import type { CliConfig } from '../config.ts';
import { formatBytes } from '../format.ts';
import type { Logger } from '../logger.ts';
import { startProgress } from '../progress.ts';
import { uploadBlobs } from '../transfer/upload.ts';

export interface CaptureTarget {
  tag: string;
  /** Absolute folder or file. */
  path: string;
  mutable: boolean;
  /** Honour .studioml_ignore (the workspace). */
  useIgnoreFile: boolean;
}

export interface CaptureOutcome {
  tag: string;
  created: boolean;
  version: number | null;
  files: number;
  bytes: number;
  stats: CaptureStats;
  skipped: string[];
}

/** Folders never worth capturing inside a workspace. */
const ALWAYS_IGNORE = ['.git/'];
/** A file that changes between hashing and upload makes the capture start over, this many times at most. */
const ATTEMPTS = 3;

/**
 * Captures artifacts of one experiment: snapshot (stat cache: unchanged files are not re-hashed), ask which blobs
 * are missing, upload only those through signed URLs, commit the version. Remembers each tag's last digest so an
 * unchanged capture costs one folder walk and no request.
 */
export class Capturer {
  private readonly last = new Map<string, string>();
  private readonly statCache: StatCache;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: ApiClient,
    private readonly experiment: string,
    cfg: CliConfig,
    private readonly log: Logger,
    /** Absolute folders (e.g. $STUDIOML_HOME) left out when they sit inside a captured folder. */
    private readonly exclude: string[],
  ) {
    this.statCache = openStatCache(homePaths(cfg.home).statcache);
  }

  /** Captures one target; serialised with every other capture of this Capturer. */
  capture(t: CaptureTarget): Promise<CaptureOutcome> {
    const run = this.chain.then(() => this.captureNow(t));
    this.chain = run.catch(() => {});
    return run;
  }

  /** Captures `targets` every `ms` until stopped; stop() waits for a capture in flight. */
  every(ms: number, targets: CaptureTarget[], onError: (err: Error) => void): { stop(): Promise<void> } {
    const timer = setInterval(() => {
      for (const t of targets) this.capture(t).catch(onError);
    }, ms);
    timer.unref();
    return {
      stop: async () => {
        clearInterval(timer);
        await this.chain;
      },
    };
  }

  close(): void {
    this.statCache.close();
  }

  private ignoresFor(root: string): string[] {
    const extra: string[] = [];
    for (const abs of this.exclude) {
      const rel = relative(root, abs);
      if (rel && !rel.startsWith('..') && !rel.startsWith(sep)) extra.push(`/${rel.split(sep).join('/')}/`);
    }
    return [...ALWAYS_IGNORE, ...extra];
  }

  private async captureNow(t: CaptureTarget): Promise<CaptureOutcome> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.attempt(t);
      } catch (err) {
        // The only retryable case here: a file changed after it was hashed, so its bytes no longer match.
        if (attempt >= ATTEMPTS || !isStudioError(err, 'E_HASH_MISMATCH')) throw err;
        this.log.debug(`capture ${t.tag}: a file changed during upload, starting over`);
      }
    }
  }

  private async attempt(t: CaptureTarget): Promise<CaptureOutcome> {
    const progress = startProgress(this.log, `capture ${t.tag}`);
    const t0 = performance.now();
    const lap = (what: string) =>
      this.log.debug(`capture ${t.tag}: ${what} at ${(performance.now() - t0).toFixed(0)} ms`);
    try {
      const snap = await snapshot(
        t.path,
        {
          useIgnoreFile: t.useIgnoreFile,
          alwaysIgnore: this.ignoresFor(t.path),
          keepBytes: { maxFileSize: 64 * 1024, budget: 256 << 20 },
          onProgress: (p) => progress.update({ phase: 'hash', files: p.hashedFiles, bytes: p.hashedBytes }),
        },
        this.statCache,
      );
      lap(`snapshot of ${snap.manifest.files.length} files (${snap.stats.hashedFiles} hashed)`);
      const skipped = snap.skipped.map((s) => `${t.tag}: ${s}`);
      for (const s of skipped) this.log.warn(`skipped ${s}`);
      const totals = manifestTotals(snap.manifest);
      const digest = manifestDigest(snap.manifest);
      const stats: CaptureStats = { ...snap.stats, uploadedBlobs: 0, uploadedBytes: 0, skipped };
      const nothing = { tag: t.tag, created: false, version: null, ...totals, stats, skipped };
      // An empty folder that never had content (an unused modeldir) is not worth a version.
      const empty = !this.last.has(t.tag) && totals.files === 0 && snap.manifest.links.length === 0;
      if (this.last.get(t.tag) === digest || empty) {
        progress.stop();
        return nothing;
      }

      const sizes = new Map(snap.manifest.files.map((f) => [f.sha256, f.size]));
      const blobs = [...sizes].map(([sha256, size]) => ({ sha256, size }));
      let uploadedBefore = 0;
      for (let i = 0; i < blobs.length; i += LIMITS.planBatch) {
        const plan = await this.client.planUpload(this.experiment, t.tag, {
          blobs: blobs.slice(i, i + LIMITS.planBatch),
        });
        const toSend = [...plan.uploads.map((u) => u.size), ...plan.packs.flatMap((p) => p.members.map((m) => m.size))];
        const totalBytes = uploadedBefore + toSend.reduce((a, b) => a + b, 0);
        lap(`plan: ${plan.present} present, ${plan.uploads.length} uploads, ${plan.packs.length} packs`);
        const up = await uploadBlobs(plan, snap.sources, {
          contents: snap.contents,
          onProgress: (done) => progress.update({ phase: 'upload', bytes: uploadedBefore + done, totalBytes }),
        });
        stats.uploadedBlobs += up.uploadedBlobs;
        stats.uploadedBytes += up.uploadedBytes;
        uploadedBefore = stats.uploadedBytes;
      }
      lap(`uploaded ${stats.uploadedBlobs} blobs`);
      const r = await this.client.commitVersion(this.experiment, t.tag, {
        mutable: t.mutable,
        manifest: snap.manifest,
        stats,
      });
      this.last.set(t.tag, digest);
      lap(`committed (created ${r.created})`);
      progress.stop(
        r.created
          ? `captured ${t.tag}@${r.version.version}: ${totals.files} files, ${formatBytes(totals.bytes)} ` +
              `(${stats.hashedFiles} hashed, ${stats.uploadedBlobs} blobs / ${formatBytes(stats.uploadedBytes)} uploaded)`
          : undefined,
      );
      return { tag: t.tag, created: r.created, version: r.version.version, ...totals, stats, skipped };
    } catch (err) {
      progress.stop();
      if (isStudioError(err)) throw err;
      throw new StudioError('E_INTERNAL', `capture of ${t.tag} failed: ${(err as Error).message}`, { cause: err });
    }
  }
}
