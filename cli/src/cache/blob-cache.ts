import { createHash, randomBytes } from 'node:crypto';
import { chmod, lstat, mkdir, open, readdir, rename, unlink } from 'node:fs/promises';
import * as path from 'node:path';
import { StudioError } from '@studio-lite/functions/core/errors.ts';
import { SHA256_RE } from '@studio-lite/functions/core/names.ts';

/**
 * Content-addressed blob cache (`$STUDIOML_HOME/blobcache`, layout `sha256/ab/<hash>`). A blob enters only after
 * its size and sha256 were verified, and is stored read-only (0444) because materialize hard-links it into
 * folders that scripts see.
 */
export class BlobCache {
  constructor(readonly dir: string) {}

  /** Where the blob lives (or would live). Throws E_BAD_REQUEST for something that is not a sha256. */
  path(sha256: string): string {
    if (!SHA256_RE.test(sha256)) throw new StudioError('E_BAD_REQUEST', `not a sha256: ${sha256.slice(0, 80)}`);
    return path.join(this.dir, 'sha256', sha256.slice(0, 2), sha256);
  }

  /**
   * True when a regular file of the expected size is present. Only the size is checked: re-hashing on every use
   * would defeat the cache; the content was verified on ingest and the file is read-only.
   */
  async has(sha256: string, size: number): Promise<boolean> {
    try {
      const st = await lstat(this.path(sha256));
      return st.isFile() && st.size === size;
    } catch {
      return false;
    }
  }

  /** Removes a blob (e.g. one found tampered with); absent is fine. */
  async evict(sha256: string): Promise<void> {
    await unlink(this.path(sha256)).catch(() => undefined);
  }

  /** Deletes temp files left by killed processes; `maxAgeMs` protects ingests still running. Returns the count. */
  async sweepTemp(maxAgeMs = 24 * 3600_000): Promise<number> {
    const tmpDir = path.join(this.dir, 'tmp');
    const names = await readdir(tmpDir).catch(() => [] as string[]);
    let removed = 0;
    for (const name of names) {
      const p = path.join(tmpDir, name);
      const st = await lstat(p).catch(() => null);
      if (
        st !== null &&
        Date.now() - st.mtimeMs > maxAgeMs &&
        (await unlink(p).then(
          () => true,
          () => false,
        ))
      )
        removed++;
    }
    return removed;
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
    await mkdir(tmpDir, { recursive: true });
    const tmp = path.join(tmpDir, `${sha256}.${process.pid}.${randomBytes(6).toString('hex')}`);
    const fh = await open(tmp, 'wx', 0o600);
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
      if (written !== size) throw mismatch(sha256, `${written} bytes instead of ${size}`);
      const actual = hash.digest('hex');
      if (actual !== sha256) throw mismatch(sha256, `content hashes to ${actual}`);
      // fsync before rename: after a crash the name must never point at a partly written file. The directory is
      // not fsynced; losing the rename only means downloading the blob again.
      await fh.sync();
      await fh.close();
      closed = true;
      await chmod(tmp, 0o444);
      await mkdir(path.dirname(final), { recursive: true });
      await rename(tmp, final);
      return final;
    } catch (err) {
      if (!closed) await fh.close().catch(() => undefined);
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
  }
}

function mismatch(sha256: string, what: string): StudioError {
  return new StudioError('E_HASH_MISMATCH', `blob ${sha256.slice(0, 12)}… rejected: ${what}`, { details: { sha256 } });
}
