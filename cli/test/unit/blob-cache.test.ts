import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isStudioError } from '@studio-lite/functions/core/errors.ts';
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
    expect(statSync(p).mode & 0o777).toBe(0o444);
    expect(await c.has(h, 5000)).toBe(true);
    expect(await c.has(h, 4999)).toBe(false);
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
