import { isAbsolute, relative, sep } from 'node:path';
import { homePaths } from '@studio-lite/functions/adapters/local/local-home.ts';
import {
  type CaptureStats,
  type FileEntry,
  isStudioError,
  manifestDigest,
  manifestTotals,
  StudioError,
  sortManifest,
} from '@studio-lite/functions/contract';
import type { ApiClient } from '../api-client.ts';
import { snapshotFromWalk } from '../capture/snapshot.ts';
import { openStatCache, type StatCache } from '../capture/stat-cache.ts';
import { type WalkFile, walkFolder } from '../capture/walk.ts';
import type { CliConfig } from '../config.ts';
import { formatBytes } from '../format.ts';
import type { Logger } from '../logger.ts';
import { type Progress, startProgress } from '../progress.ts';
import { type BlobSource, ChunkUploader } from './chunk-uploader.ts';

export interface CaptureTarget {
  tag: string;
  /** Absolute folder or file. */
  path: string;
  mutable: boolean;
  /** Honour .studioml_ignore (the workspace). */
  useIgnoreFile: boolean;
  /** Paths inside `path` captured under their own tag (--capture inside the workspace): left out, and recorded. */
  excludeTargets?: { path: string; tag: string }[];
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

/** Hashing proceeds in chunks of at most this many files or bytes; each chunk uploads while the next one hashes. */
const CHUNK_FILES = 4096;
const CHUNK_BYTES = 128 << 20;

function* chunkFiles(files: WalkFile[]): Generator<WalkFile[]> {
  let chunk: WalkFile[] = [];
  let bytes = 0;
  for (const f of files) {
    chunk.push(f);
    bytes += f.size;
    if (chunk.length >= CHUNK_FILES || bytes >= CHUNK_BYTES) {
      yield chunk;
      chunk = [];
      bytes = 0;
    }
  }
  if (chunk.length > 0) yield chunk;
}

/** `abs` relative to `root` as a POSIX path when it lies strictly inside, else null. */
function insideRel(root: string, abs: string): string | null {
  const rel = relative(root, abs);
  return rel && !rel.startsWith('..') && !isAbsolute(rel) ? rel.split(sep).join('/') : null;
}

/** An ignore pattern matching exactly `rel` from the root: gitignore's wildcards and trailing spaces are escaped. */
function anchoredPattern(rel: string): string {
  return `/${rel.replace(/[\\*?[\]]/g, (c) => `\\${c}`).replace(/ +$/, (sp) => sp.replace(/ /g, '\\ '))}`;
}

/** The target's exclusions that lie inside it, relative to it. */
function excludedTargets(t: CaptureTarget): { rel: string; tag: string }[] {
  return (t.excludeTargets ?? []).flatMap((x) => {
    const rel = insideRel(t.path, x.path);
    return rel ? [{ rel, tag: x.tag }] : [];
  });
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
/**
 * Seconds between captures of a run's `output` (local runs and workers): the web UI shows a live run's output
 * within OUTPUT_CAPTURE_SECONDS plus its 1.5 s poll. An unchanged output makes no version.
 */
export const OUTPUT_CAPTURE_SECONDS = 2;

export class Capturer {
  private readonly last = new Map<string, string>();
  private readonly statCache: StatCache;
  private readonly uploadsDir: string;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly client: ApiClient,
    private readonly experiment: string,
    cfg: CliConfig,
    private readonly log: Logger,
    /** Absolute folders (e.g. $STUDIOML_HOME) left out when they sit inside a captured folder. */
    private readonly exclude: string[],
    /** md5: also send MD5s so storage that checks them (GCS) refuses wrong bytes at upload (deployments only). */
    private readonly options: { md5?: boolean } = {},
  ) {
    this.statCache = openStatCache(homePaths(cfg.home).statcache);
    this.uploadsDir = homePaths(cfg.home).uploads;
  }

  /** Captures one target; serialised with every other capture of this Capturer. */
  capture(t: CaptureTarget): Promise<CaptureOutcome> {
    const run = this.chain.then(() => this.captureNow(t));
    this.chain = run.catch(() => {});
    return run;
  }

  /** Captures `targets` every `ms` until stopped; stop() waits for a capture in flight. */
  every(ms: number, targets: CaptureTarget[], onError: (err: Error) => void): { stop(): Promise<void> } {
    // A target whose previous capture is still queued or running skips this tick, so ticks never pile up behind
    // a long capture of another artifact.
    const busy = new Set<CaptureTarget>();
    const timer = setInterval(() => {
      for (const t of targets) {
        if (busy.has(t)) continue;
        busy.add(t);
        this.capture(t)
          .catch(onError)
          .finally(() => busy.delete(t));
      }
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

  private ignoresFor(t: CaptureTarget): string[] {
    const extra: string[] = [];
    for (const abs of this.exclude) {
      const rel = insideRel(t.path, abs);
      if (rel) extra.push(`${anchoredPattern(rel)}/`);
    }
    for (const x of excludedTargets(t)) extra.push(anchoredPattern(x.rel));
    return [...ALWAYS_IGNORE, ...extra];
  }

  private async captureNow(t: CaptureTarget): Promise<CaptureOutcome> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.attempt(t);
      } catch (err) {
        // Retryable: a file changed after it was hashed (its bytes no longer match), or a blob the plan called
        // stored was garbage-collected before the commit (the new plan asks for it again).
        const gone = isStudioError(err, 'E_BLOB_MISSING');
        if (attempt >= ATTEMPTS || !(gone || isStudioError(err, 'E_HASH_MISMATCH'))) throw err;
        this.log.debug(`capture ${t.tag}: ${gone ? 'stored blobs went missing' : 'a file changed'}, starting over`);
      }
    }
  }

  /**
   * Walks once, then hashes in chunks; each chunk with new content is planned and uploaded in the background while
   * the next chunk hashes. Chunks the stat cache fully vouched for are deferred, so an unchanged capture sends nothing.
   */
  private async snapshotAndUpload(t: CaptureTarget, progress: Progress, lap: (what: string) => void) {
    const walkOpts = { useIgnoreFile: t.useIgnoreFile, alwaysIgnore: this.ignoresFor(t) };
    const startedAt = Date.now();
    const walk = await walkFolder(t.path, walkOpts);
    for (const n of walk.notes) this.log.warn(`${t.tag}: ${n}`);
    lap(`walk of ${walk.files.length} files`);
    const sources = new Map<string, string>();
    const contents = new Map<string, Buffer>();
    const md5s = new Map<string, string>();
    const stats = { hashedFiles: 0, hashedBytes: 0 };
    let hashing = true;
    const uploader = new ChunkUploader(
      this.client,
      this.experiment,
      t.tag,
      sources,
      contents,
      (done, planned) => {
        if (!hashing) progress.update({ phase: 'upload', bytes: done, totalBytes: planned });
      },
      this.uploadsDir,
    );
    const files: FileEntry[] = [];
    const skipped = [...walk.skipped];
    const deferred: BlobSource[] = [];
    for (const chunk of chunkFiles(walk.files)) {
      const base = { ...stats };
      const part = await snapshotFromWalk(
        { files: chunk, links: [], skipped: [], notes: [] },
        {
          keepBytes: { maxFileSize: 64 * 1024, budget: 256 << 20 },
          md5: this.options.md5 ?? false,
          onProgress: (p) =>
            progress.update({
              phase: 'hash',
              files: base.hashedFiles + p.hashedFiles,
              bytes: base.hashedBytes + p.hashedBytes,
            }),
        },
        this.statCache,
        startedAt,
      );
      files.push(...part.manifest.files);
      skipped.push(...part.skipped);
      for (const [k, v] of part.sources) if (!sources.has(k)) sources.set(k, v);
      for (const [k, v] of part.contents) contents.set(k, v);
      for (const [k, v] of part.md5s) md5s.set(k, v);
      stats.hashedFiles += part.stats.hashedFiles;
      stats.hashedBytes += part.stats.hashedBytes;
      const blobs = part.manifest.files.map((f) => ({ sha256: f.sha256, size: f.size, md5: md5s.get(f.sha256) }));
      if (part.stats.hashedFiles > 0) uploader.push(blobs);
      else deferred.push(...blobs);
    }
    hashing = false;
    lap(`hashed ${stats.hashedFiles} of ${files.length} files`);
    return { manifest: sortManifest({ files, links: walk.links }), stats, skipped, uploader, deferred };
  }

  private async attempt(t: CaptureTarget): Promise<CaptureOutcome> {
    const progress = startProgress(this.log, `capture ${t.tag}`);
    const t0 = performance.now();
    const lap = (what: string) =>
      this.log.debug(`capture ${t.tag}: ${what} at ${(performance.now() - t0).toFixed(0)} ms`);
    try {
      const snap = await this.snapshotAndUpload(t, progress, lap);
      const skipped = snap.skipped.map((s) => `${t.tag}: ${s}`);
      for (const s of skipped) this.log.warn(`skipped ${s}`);
      const totals = manifestTotals(snap.manifest);
      const digest = manifestDigest(snap.manifest);
      const excluded = excludedTargets(t).map((x) => `${x.rel} (captured as ${x.tag})`);
      const stats: CaptureStats = {
        ...snap.stats,
        uploadedBlobs: 0,
        uploadedBytes: 0,
        skipped,
        ...(excluded.length ? { excluded } : {}),
      };
      const nothing = { tag: t.tag, created: false, version: null, ...totals, stats, skipped };
      // An empty folder that never had content (an unused modeldir) is not worth a version.
      const empty = !this.last.has(t.tag) && totals.files === 0 && snap.manifest.links.length === 0;
      if (this.last.get(t.tag) === digest || empty) {
        await snap.uploader.drain();
        progress.stop();
        return nothing;
      }
      // Blobs of files the stat cache vouched for were not planned yet: most are stored, the API says which are not.
      snap.uploader.push(snap.deferred);
      await snap.uploader.drain();
      stats.uploadedBlobs = snap.uploader.uploadedBlobs;
      stats.uploadedBytes = snap.uploader.uploadedBytes;
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
