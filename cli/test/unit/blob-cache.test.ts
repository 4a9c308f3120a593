import { createHash, randomBytes } from 'node:crypto';
import { existsSync, linkSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isStudioError } from '@studio-lite/functions/contract';
import { describe, expect, it } from 'vitest';
import { BlobCache } from '../../src/cache/blob-cache.ts';
import { useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function* chunks(data: Uint8Array, size = 1000): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < data.length; i += size) yield data.subarray(i, i + size);
}

const tmpFiles = (c: BlobCache) => {
  try {
    return readdirSync(path.join(c.dir, 'tmp'));
  } catch {
    return [];
  }
};

describe('BlobCache', () => {
  it('ingests verified bytes read-only under sha256/ab/<hash>', async () => {
    const c = new BlobCache(tmp());
    const data = randomBytes(5000);
    const h = sha(data);
    expect(await c.has(h, 5000)).toBe(false);
    const p = await c.ingest(h, 5000, chunks(data));
    expect(p).toBe(path.join(c.dir, 'sha256', h.slice(0, 2), h));
    expect(c.path(h)).toBe(p);
    expect(readFileSync(p).equals(data)).toBe(true);
    expect(statSync(p).mode & 0o777).toBe(0o400);
    expect(await c.has(h, 5000)).toBe(true);
    expect(await c.has(h, 4999)).toBe(false);
    expect(tmpFiles(c)).toEqual([]);
  });

  it('ingests again after its folders were removed behind its back (prune, rm -r) and records concurrent ingests', async () => {
    const c = new BlobCache(tmp());
    const first = randomBytes(100);
    await c.ingest(sha(first), 100, chunks(first));
    rmSync(c.dir, { recursive: true, force: true });
    const many = Array.from({ length: 20 }, (_, i) => randomBytes(50 + i));
    await Promise.all(many.map((d) => c.ingest(sha(d), d.length, chunks(d))));
    for (const d of many) expect(readFileSync(c.path(sha(d))).equals(d)).toBe(true);
    // Every ingest was recorded (one shared transaction): nothing counts as changed since it was verified.
    expect((await c.info()).changedBlobs).toBe(0);
    expect(tmpFiles(c)).toEqual([]);
  });

  it('accepts a web ReadableStream body and an empty blob', async () => {
    const c = new BlobCache(tmp());
    const data = randomBytes(3000);
    await c.ingest(sha(data), 3000, new Response(data).body as ReadableStream<Uint8Array>);
    expect(await c.has(sha(data), 3000)).toBe(true);
    const empty = new Uint8Array(0);
    await c.ingest(sha(empty), 0, chunks(empty));
    expect(await c.has(sha(empty), 0)).toBe(true);
  });

  it.each([
    ['different bytes of the same size', (d: Buffer) => Buffer.from(d.map((b) => b ^ 1))],
    ['a truncated body', (d: Buffer) => d.subarray(0, d.length - 1)],
    ['a longer body', (d: Buffer) => Buffer.concat([d, Buffer.from('x')])],
  ])('rejects %s with E_HASH_MISMATCH and leaves nothing behind', async (_what, tamper) => {
    const c = new BlobCache(tmp());
    const data = randomBytes(4096);
    const err = await c.ingest(sha(data), data.length, chunks(tamper(data))).catch((e: unknown) => e);
    expect(isStudioError(err, 'E_HASH_MISMATCH')).toBe(true);
    expect(await c.has(sha(data), data.length)).toBe(false);
    expect(tmpFiles(c)).toEqual([]);
    // Only a short body is a transfer problem worth another download; other bytes are bad content.
    expect((err as { details?: { retryable?: boolean } }).details?.retryable === true).toBe(
      _what === 'a truncated body',
    );
  });

  it('propagates a body error and removes the temp file', async () => {
    const c = new BlobCache(tmp());
    async function* broken(): AsyncGenerator<Uint8Array> {
      yield new Uint8Array(10);
      throw new Error('connection reset');
    }
    await expect(c.ingest('a'.repeat(64), 100, broken())).rejects.toThrow('connection reset');
    expect(tmpFiles(c)).toEqual([]);
  });

  it('survives concurrent ingests of the same blob', async () => {
    const c = new BlobCache(tmp());
    const data = randomBytes(200_000);
    const h = sha(data);
    await Promise.all(Array.from({ length: 5 }, () => c.ingest(h, data.length, chunks(data, 7000))));
    expect(readFileSync(c.path(h)).equals(data)).toBe(true);
    expect(readdirSync(path.dirname(c.path(h)))).toEqual([h]);
    expect(tmpFiles(c)).toEqual([]);
  });

  it('rejects something that is not a sha256 as a path', () => {
    const c = new BlobCache(tmp());
    expect(() => c.path('../../etc/passwd')).toThrow(/not a sha256/);
  });

  it('sweeps stale temp files only', async () => {
    const c = new BlobCache(tmp());
    const data = randomBytes(10);
    await c.ingest(sha(data), 10, chunks(data));
    const stale = path.join(c.dir, 'tmp', 'stale');
    writeFileSync(stale, 'x');
    utimesSync(stale, 1000, 1000);
    writeFileSync(path.join(c.dir, 'tmp', 'fresh'), 'x');
    expect(await c.sweepTemp(60_000)).toBe(1);
    expect(tmpFiles(c)).toEqual(['fresh']);
  });
});

interface Blob {
  sha: string;
  data: Buffer;
  path: string;
}

const NO_CHANGE = { changedBlobs: 0, quarantined: 0, quarantinedBytes: 0 };
const NOTHING_PRUNED = { removedTemp: 0, rehashed: 0, quarantined: 0, removedQuarantine: 0, evicted: 0, freedBytes: 0 };

describe('BlobCache info and prune', () => {
  /** Ingests blobs of the given sizes with mtimes 1000 s apart, oldest first. */
  async function filled(sizes: number[]) {
    const c = new BlobCache(tmp());
    const blobs: Blob[] = [];
    for (const [i, size] of sizes.entries()) {
      const data = randomBytes(size);
      const p = await c.ingest(sha(data), size, chunks(data));
      const t = 1_700_000_000 + i * 1000;
      utimesSync(p, t, t);
      blobs.push({ sha: sha(data), data, path: p });
    }
    // utimes moved the recorded stat: record again, as the cache does after its own changes.
    await c.record(blobs.map((b) => ({ sha256: b.sha })));
    return { c, blobs };
  }

  it('counts blobs, bytes and hard-linked ones, ignoring temp files and stray names', async () => {
    const { c, blobs } = await filled([100, 200, 300]);
    const pulled = tmp();
    linkSync((blobs[1] as Blob).path, path.join(pulled, 'model.bin'));
    writeFileSync(path.join(c.dir, 'tmp', 'partial'), 'x'.repeat(50));
    writeFileSync(path.join(path.dirname((blobs[0] as Blob).path), 'not-a-blob'), 'x');
    // The link made outside the CLI moved blob 1's ctime: it counts as changed (re-hashed before its next use).
    expect(await c.info()).toEqual({
      ...NO_CHANGE,
      blobs: 3,
      bytes: 600,
      sharedBlobs: 1,
      sharedBytes: 200,
      changedBlobs: 1,
    });
    expect(await new BlobCache(path.join(tmp(), 'absent')).info()).toEqual({
      ...NO_CHANGE,
      blobs: 0,
      bytes: 0,
      sharedBlobs: 0,
      sharedBytes: 0,
    });
  });

  it('evicts the oldest unshared blobs first until the cache fits, then shared ones only if needed', async () => {
    // Oldest first: b0 (shared), b1, b2, b3 (shared), b4.
    const { c, blobs } = await filled([1000, 1000, 1000, 1000, 1000]);
    const pulled = tmp();
    const [b0, b3] = [blobs[0], blobs[3]] as [Blob, Blob];
    linkSync(b0.path, path.join(pulled, 'old.bin'));
    linkSync(b3.path, path.join(pulled, 'new.bin'));

    // Fits once two unshared blobs are gone: the oldest unshared ones (b1, b2), not the older shared b0.
    expect(await c.prune({ maxBytes: 3500 })).toEqual({
      ...NOTHING_PRUNED,
      rehashed: 2,
      evicted: 2,
      freedBytes: 2000,
      blobs: 3,
      bytes: 3000,
    });
    expect(blobs.map((b) => existsSync(b.path))).toEqual([true, false, false, true, true]);

    // Already small enough: nothing happens.
    expect(await c.prune({ maxBytes: 3000 })).toMatchObject({ evicted: 0, freedBytes: 0, blobs: 3, bytes: 3000 });

    // Needs more than the unshared b4: then the oldest shared one, whose bytes stay in the pulled folder.
    expect(await c.prune({ maxBytes: 1000 })).toEqual({
      ...NOTHING_PRUNED,
      evicted: 2,
      freedBytes: 1000,
      blobs: 1,
      bytes: 1000,
    });
    expect(blobs.map((b) => existsSync(b.path))).toEqual([false, false, false, true, false]);
    expect(readFileSync(path.join(pulled, 'old.bin')).equals(b0.data)).toBe(true);
    expect(await c.has(b3.sha, 1000)).toBe(true);
    expect(await c.info()).toEqual({ ...NO_CHANGE, blobs: 1, bytes: 1000, sharedBlobs: 1, sharedBytes: 1000 });

    // 0 empties it; the pulled folder keeps every byte.
    expect(await c.prune({ maxBytes: 0 })).toMatchObject({ evicted: 1, freedBytes: 0, blobs: 0, bytes: 0 });
    expect(readFileSync(path.join(pulled, 'new.bin')).equals(b3.data)).toBe(true);
    expect(await c.info()).toEqual({ ...NO_CHANGE, blobs: 0, bytes: 0, sharedBlobs: 0, sharedBytes: 0 });
    // An evicted blob can be ingested again.
    await c.ingest(b3.sha, 1000, chunks(b3.data));
    expect(await c.has(b3.sha, 1000)).toBe(true);
  });

  it('always sweeps temp files older than an hour and evicts nothing without maxBytes', async () => {
    const { c, blobs } = await filled([10, 20]);
    const stale = path.join(c.dir, 'tmp', `${(blobs[0] as Blob).sha}.123.abcdef`);
    const fresh = path.join(c.dir, 'tmp', `${(blobs[1] as Blob).sha}.456.abcdef`);
    writeFileSync(stale, 'partial');
    writeFileSync(fresh, 'partial');
    const hourAndABitAgo = (Date.now() - 61 * 60_000) / 1000;
    const minutesAgo = (Date.now() - 50 * 60_000) / 1000;
    utimesSync(stale, hourAndABitAgo, hourAndABitAgo);
    utimesSync(fresh, minutesAgo, minutesAgo);
    expect(await c.prune()).toEqual({ ...NOTHING_PRUNED, removedTemp: 1, blobs: 2, bytes: 30 });
    expect(tmpFiles(c)).toEqual([path.basename(fresh)]);
    expect(await c.prune({})).toMatchObject({ removedTemp: 0, blobs: 2 });
    expect(await new BlobCache(path.join(tmp(), 'absent')).prune({ maxBytes: 0 })).toEqual({
      ...NOTHING_PRUNED,
      evicted: 0,
      freedBytes: 0,
      blobs: 0,
      bytes: 0,
    });
  });
});
