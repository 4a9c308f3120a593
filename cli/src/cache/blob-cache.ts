import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, lstatSync, openSync, renameSync, writeSync } from 'node:fs';
import { mkdir, open, rename, rm, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { SHA256_RE, StudioError } from '@studio-lite/functions/contract';
import { type ScannedBlob, scanBlobs, scanQuarantine, sweepOld } from './blob-cache-scan.ts';
import { CACHE_ENTRY_MODE, EntryStats, sameStat } from './entry-stats.ts';
import { type VerifyResult, verifyEntries } from './verify-entries.ts';

/** Temp files older than this are leftovers of a killed process (an ingest in progress touches its file). */
export const STALE_TEMP_MS = 3600_000;

/**
 * Content-addressed blob cache (`$STUDIOML_HOME/blobcache`, layout `sha256/ab/<hash>`). A blob enters only after
 * its size and sha256 were verified and is stored read-only and private (0400, in 0700 folders); the stat it had then is recorded (`entries.db`)
 * so that a later change (root writes through a hard link or edits the file in place) is noticed before the entry
 * is handed out again (verify-entries.ts).
 */
export class BlobCache {
  readonly stats: EntryStats;
  readonly quarantineDir: string;
  /** Folders this instance made (or found) already: an ingest does not ask the kernel again. */
  private readonly madeDirs = new Set<string>();
  /** Ingests finishing at about the same time share one `entries.db` transaction (group commit). */
  private pendingRecords: { sha256: string }[] = [];
  private recordFlush: Promise<void> | null = null;

  constructor(readonly dir: string) {
    this.stats = new EntryStats(path.join(dir, 'entries.db'));
    this.quarantineDir = path.join(dir, 'quarantine');
  }

  /** Where the blob lives (or would live). Throws E_BAD_REQUEST for something that is not a sha256. */
  path(sha256: string): string {
    if (!SHA256_RE.test(sha256)) throw new StudioError('E_BAD_REQUEST', `not a sha256: ${sha256.slice(0, 80)}`);
    return path.join(this.dir, 'sha256', sha256.slice(0, 2), sha256);
  }

  /**
   * True when a regular file of the expected size is present: whether to download it. Its content is checked
   * before it is handed out (verify-entries.ts: recorded stat, re-hash when anything moved).
   */
  /** has() for many blobs at once, with synchronous lstats (one loop, no thread-pool round trips): the absent ones. */
  absent<T extends { sha256: string; size: number }>(blobs: Iterable<T>): T[] {
    const out: T[] = [];
    for (const b of blobs) {
      const st = lstatSync(this.path(b.sha256), { throwIfNoEntry: false });
      if (!(st?.isFile() && st.size === b.size)) out.push(b);
    }
    return out;
  }

  async has(sha256: string, size: number): Promise<boolean> {
    return this.absent([{ sha256, size }]).length === 0;
  }

  /** Removes a blob; absent is fine. */
  async evict(sha256: string): Promise<void> {
    await unlink(this.path(sha256)).catch(() => undefined);
    this.stats.delete([sha256]);
  }

  /**
   * Moves an entry whose bytes are wrong out of the cache (kept for inspection until `cache prune`), so the next
   * download replaces it; a pulled folder hard-linked to it keeps its (changed) file.
   */
  async quarantine(sha256: string): Promise<void> {
    await mkdir(this.quarantineDir, { recursive: true, mode: 0o700 });
    const to = path.join(this.quarantineDir, `${sha256}.${Date.now()}.${randomBytes(4).toString('hex')}`);
    await rename(this.path(sha256), to).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
    this.stats.delete([sha256]);
  }

  /** Records the current stat of entries just verified or handed out (a hard link changes the ctime). */
  async record(entries: readonly { sha256: string; expect?: { size: number } }[]): Promise<void> {
    const rows: { sha256: string; ino: number; size: number; mtimeMs: number; ctimeMs: number }[] = [];
    // Synchronous lstats in one loop: for thousands of entries the thread-pool round trips cost more than the calls.
    for (const e of entries) {
      const st = lstatSync(this.path(e.sha256), { throwIfNoEntry: false });
      if (!st?.isFile()) continue;
      // The content changed since it was verified: do not vouch for it, the next use re-hashes it.
      if (e.expect && st.size !== e.expect.size) continue;
      rows.push({ sha256: e.sha256, ino: st.ino, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs });
    }
    if (rows.length > 0) this.stats.put(rows);
  }

  /**
   * What the cache holds: blob files, their total size, how many are hard-linked elsewhere (pulled folders), how
   * many changed since they were verified (re-hashed before their next use, or by `prune`) and what is quarantined.
   */
  async info(): Promise<BlobCacheInfo> {
    const blobs = await scanBlobs(this.dir);
    const recorded = this.stats.get(blobs.map((b) => b.sha256));
    const quarantine = await scanQuarantine(this.quarantineDir);
    const out: BlobCacheInfo = {
      blobs: blobs.length,
      bytes: 0,
      sharedBlobs: 0,
      sharedBytes: 0,
      changedBlobs: 0,
      quarantined: quarantine.length,
      quarantinedBytes: quarantine.reduce((n, q) => n + q.size, 0),
    };
    for (const b of blobs) {
      out.bytes += b.size;
      if (b.nlink > 1) {
        out.sharedBlobs++;
        out.sharedBytes += b.size;
      }
      if (!sameStat(b, recorded.get(b.sha256))) out.changedBlobs++;
    }
    return out;
  }

  /**
   * Sweeps temp files older than an hour, re-hashes entries whose stat moved since they were recorded (wrong ones
   * are quarantined) and empties the quarantine; then, with `maxBytes`, evicts blobs until the cache holds at most that many bytes:
   * oldest mtime first among files with no other link (only those free space), then, if still needed, files that
   * pulled folders also link to (their folders keep the bytes, so they do not count as freed). Evicting never
   * breaks a pulled folder; a later pull or reuse downloads the blob again.
   */
  async prune(opts: { maxBytes?: number | undefined } = {}): Promise<BlobCachePruneResult> {
    const removedTemp = await this.sweepTemp();
    const checked = await this.verifyChanged();
    const quarantine = await scanQuarantine(this.quarantineDir);
    await rm(this.quarantineDir, { recursive: true, force: true });
    const blobs = await scanBlobs(this.dir);
    let bytes = blobs.reduce((n, b) => n + b.size, 0);
    let count = blobs.length;
    let evicted = 0;
    let freedBytes = 0;
    if (opts.maxBytes !== undefined && bytes > opts.maxBytes) {
      const order = (a: ScannedBlob, b: ScannedBlob) => a.mtimeMs - b.mtimeMs;
      const candidates = [
        ...blobs.filter((b) => b.nlink <= 1).sort(order),
        ...blobs.filter((b) => b.nlink > 1).sort(order),
      ];
      for (const b of candidates) {
        if (bytes <= opts.maxBytes) break;
        const gone = await unlink(b.path).then(
          () => true,
          (err: NodeJS.ErrnoException) => err.code === 'ENOENT',
        );
        if (!gone) continue;
        this.stats.delete([b.sha256]);
        bytes -= b.size;
        count--;
        evicted++;
        if (b.nlink <= 1) freedBytes += b.size;
      }
    }
    return {
      removedTemp,
      rehashed: checked.rehashed,
      quarantined: checked.quarantined.length,
      removedQuarantine: quarantine.length,
      evicted,
      freedBytes,
      blobs: count,
      bytes,
    };
  }

  /** Re-hashes every entry whose stat moved since it was recorded; wrong bytes go to quarantine. */
  private async verifyChanged(): Promise<VerifyResult> {
    const blobs = await scanBlobs(this.dir);
    const recorded = this.stats.get(blobs.map((b) => b.sha256));
    const changed = new Map(blobs.filter((b) => !sameStat(b, recorded.get(b.sha256))).map((b) => [b.sha256, b.size]));
    return verifyEntries(this, changed);
  }

  /** Deletes temp files left by killed processes; `maxAgeMs` protects ingests still running. Returns the count. */
  sweepTemp(maxAgeMs = STALE_TEMP_MS): Promise<number> {
    return sweepOld(path.join(this.dir, 'tmp'), maxAgeMs);
  }

  private async mkdirOnce(dir: string): Promise<void> {
    if (this.madeDirs.has(dir)) return;
    await mkdir(dir, { recursive: true, mode: 0o700 });
    this.madeDirs.add(dir);
  }

  /** Runs `op`; when `dir` went away since it was made (a prune, a user's rm -r), makes it again and retries once. */
  private async inDir<T>(dir: string, op: () => Promise<T>): Promise<T> {
    try {
      return await op();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      this.madeDirs.delete(dir);
      await this.mkdirOnce(dir);
      return op();
    }
  }

  /**
   * Records an ingested entry; resolves once it is recorded. Entries arriving while a batch is being collected go in
   * the same transaction (a cold pull of 20,000 small blobs made 20,000 transactions).
   */
  private recordSoon(sha256: string): Promise<void> {
    this.pendingRecords.push({ sha256 });
    this.recordFlush ??= new Promise<void>((resolve) => setImmediate(resolve)).then(async () => {
      const batch = this.pendingRecords;
      this.pendingRecords = [];
      this.recordFlush = null;
      await this.record(batch);
    });
    return this.recordFlush;
  }

  /**
   * Streams `body` into the cache: hashes while writing a temp file next to the cache, fsyncs, verifies size and
   * sha256, makes it read-only and renames it into place. Throws E_HASH_MISMATCH (nothing enters the cache) when
   * the bytes are not the expected ones; errors of `body` propagate so the caller can retry. Concurrent ingests
   * of one blob are safe: each has its own temp file and rename is atomic; identical content makes the last
   * rename harmless.
   */
  async ingest(
    sha256: string,
    size: number,
    body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>,
  ): Promise<string> {
    const final = this.path(sha256);
    const tmpDir = path.join(this.dir, 'tmp');
    await this.mkdirOnce(tmpDir);
    const tmp = path.join(tmpDir, `${sha256}.${process.pid}.${randomBytes(6).toString('hex')}`);
    // Created with the entry's final mode (the descriptor still writes): no chmod after the write.
    const fh = await this.inDir(tmpDir, () => open(tmp, 'wx', CACHE_ENTRY_MODE));
    let closed = false;
    try {
      const hash = createHash('sha256');
      let written = 0;
      // Node's web ReadableStream is async-iterable at runtime; the DOM-style global type does not say so.
      for await (const chunk of body as AsyncIterable<Uint8Array>) {
        written += chunk.byteLength;
        // Stop early on an oversized body instead of filling the disk with it.
        if (written > size) throw mismatch(sha256, `more than the expected ${size} bytes`);
        hash.update(chunk);
        let off = 0;
        while (off < chunk.byteLength) off += (await fh.write(chunk, off, chunk.byteLength - off)).bytesWritten;
      }
      // A body that ends short is a cut transfer (seen under load from the local host: 200 with 0 of 4096 bytes),
      // not bad content: the caller's retry fetches it again.
      if (written !== size) throw mismatch(sha256, `${written} bytes instead of ${size}`, true);
      const actual = hash.digest('hex');
      if (actual !== sha256) throw mismatch(sha256, `content hashes to ${actual}`);
      // fsync before rename: after a crash the name must never point at a partly written file. The directory is
      // not fsynced; losing the rename only means downloading the blob again.
      await fh.sync();
      await fh.close();
      closed = true;
      await this.mkdirOnce(path.dirname(final));
      await this.inDir(path.dirname(final), () => rename(tmp, final));
      await this.recordSoon(sha256);
      return final;
    } catch (err) {
      if (!closed) await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }

  /**
   * Ingests many small blobs already in memory (the members of a pack range): each is checked against its sha256
   * (E_HASH_MISMATCH: none of the batch enters), written to a temp file with sync calls, then the whole batch is made
   * durable with one flush (syncBatch) before the renames, and recorded in one `entries.db` transaction.
   */
  async ingestMany(items: readonly { sha256: string; data: Uint8Array }[]): Promise<void> {
    if (items.length === 0) return;
    for (const it of items) {
      const actual = createHash('sha256').update(it.data).digest('hex');
      if (actual !== it.sha256) throw mismatch(it.sha256, `content hashes to ${actual}`);
    }
    const tmpDir = path.join(this.dir, 'tmp');
    await this.mkdirOnce(tmpDir);
    const tag = `${process.pid}.${randomBytes(6).toString('hex')}`;
    const written: { tmp: string; final: string; sha256: string }[] = [];
    try {
      for (const it of items) {
        const tmp = path.join(tmpDir, `${it.sha256}.${tag}`);
        const fd = openSync(tmp, 'wx', CACHE_ENTRY_MODE);
        written.push({ tmp, final: this.path(it.sha256), sha256: it.sha256 });
        try {
          let off = 0;
          while (off < it.data.byteLength) off += writeSync(fd, it.data, off, it.data.byteLength - off);
        } finally {
          closeSync(fd);
        }
      }
      await syncBatch(
        tmpDir,
        written.map((w) => w.tmp),
      );
      for (const w of written) {
        const dir = path.dirname(w.final);
        await this.mkdirOnce(dir);
        await this.inDir(dir, async () => renameSync(w.tmp, w.final));
      }
    } catch (err) {
      for (const w of written) await unlink(w.tmp).catch(() => undefined);
      throw err;
    }
    await this.record(written.map((w) => ({ sha256: w.sha256 })));
  }
}

/**
 * Makes the data of files just written durable with one call for the whole batch: `sync -f` (coreutils, syncfs(2) on
 * the file system holding `dir`), as git's `core.fsyncMethod=batch` does with one flush for many loose objects. Where
 * that is not available (not Linux, no coreutils) every file is fdatasynced instead, all at once.
 */
async function syncBatch(dir: string, files: string[]): Promise<void> {
  if (syncfsWorks !== false) {
    const ok = await new Promise<boolean>((resolve) => {
      execFile('sync', ['-f', dir], { timeout: 120_000 }, (err) => resolve(!err));
    });
    if (ok) {
      syncfsWorks = true;
      return;
    }
    syncfsWorks = false;
  }
  await Promise.all(
    files.map(async (f) => {
      const fh = await open(f, 'r');
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    }),
  );
}
let syncfsWorks: boolean | undefined;

export interface BlobCacheInfo {
  blobs: number;
  bytes: number;
  /** Blobs with more than one link (also in a pulled or reused folder): evicting them frees nothing. */
  sharedBlobs: number;
  sharedBytes: number;
  /** Entries whose stat moved since they were verified (or never recorded): re-hashed before their next use. */
  changedBlobs: number;
  /** Entries found with the wrong bytes, kept in `quarantine/` until the next prune. */
  quarantined: number;
  quarantinedBytes: number;
}

export interface BlobCachePruneResult {
  /** Stale temp files deleted (older than an hour). */
  removedTemp: number;
  /** Entries whose stat had moved, re-hashed. */
  rehashed: number;
  /** Of those, entries with the wrong bytes (moved to quarantine, then removed with it). */
  quarantined: number;
  /** Quarantined files removed (these and earlier ones). */
  removedQuarantine: number;
  evicted: number;
  /** Bytes given back to the file system (evicted files with no other link). */
  freedBytes: number;
  /** What the cache holds afterwards. */
  blobs: number;
  bytes: number;
}

function mismatch(sha256: string, what: string, retryable = false): StudioError {
  const details = retryable ? { sha256, retryable } : { sha256 };
  return new StudioError('E_HASH_MISMATCH', `blob ${sha256.slice(0, 12)}… rejected: ${what}`, { details });
}
