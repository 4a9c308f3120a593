import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isStudioError } from '@studio-lite/functions/contract';
import { afterEach, describe, expect, it } from 'vitest';
import {
  createHashPool,
  HASH_BUFFER_SIZE,
  hashFile,
  hashFileInPool,
  hashPool,
  POOL_HASH_MIN,
} from '../../src/capture/hash.ts';
import { POOL_IDLE_MS } from '../../src/capture/hash-pool.ts';
import { snapshot, snapshotFromWalk } from '../../src/capture/snapshot.ts';
import { walkFolder } from '../../src/capture/walk.ts';
import { useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();
const digest = (alg: string, b: Uint8Array, enc: 'hex' | 'base64') => createHash(alg).update(b).digest(enc);
const pools: { close(): Promise<void> }[] = [];
afterEach(async () => {
  await Promise.all(pools.splice(0).map((p) => p.close()));
});
function pool(size: number, gate?: SharedArrayBuffer) {
  const p = createHashPool(size, gate);
  pools.push(p);
  return p;
}

/** Resolves once the gated threads have made `n` first reads in all (see hash-worker.ts). */
async function gateReached(gate: Int32Array, n: number): Promise<void> {
  const until = Date.now() + 10_000;
  while (Atomics.load(gate, 0) < n) {
    if (Date.now() > until) throw new Error(`only ${Atomics.load(gate, 0)} of ${n} threads reached the gate`);
    await new Promise((r) => setTimeout(r, 5));
  }
}
function openGate(gate: Int32Array): void {
  Atomics.store(gate, 1, 1);
  Atomics.notify(gate, 1);
}

describe('hashFileInPool', () => {
  it('gives node:crypto’s sha256 and md5 and hashFile’s stat for sizes around the buffer and pool thresholds', async () => {
    const p = pool(2);
    const d = tmp();
    const sizes = [
      0,
      1,
      HASH_BUFFER_SIZE - 1,
      HASH_BUFFER_SIZE,
      HASH_BUFFER_SIZE + 1,
      POOL_HASH_MIN - 1,
      POOL_HASH_MIN,
    ];
    const data = randomBytes(POOL_HASH_MIN + 1);
    await Promise.all(
      [...sizes, POOL_HASH_MIN + 1].map(async (size) => {
        const f = path.join(d, `f${size}`);
        const bytes = data.subarray(0, size);
        writeFileSync(f, bytes, { mode: 0o640 });
        const [pooled, plain] = await Promise.all([hashFileInPool(f, true, p), hashFile(f, undefined, true)]);
        expect(pooled).toEqual(plain);
        expect(pooled).toMatchObject({
          sha256: digest('sha256', bytes, 'hex'),
          md5: digest('md5', bytes, 'base64'),
          bytesRead: size,
          size,
        });
        expect(pooled.mode & 0o777).toBe(0o640);
        expect((await hashFileInPool(f, false, p)).md5).toBeUndefined();
      }),
    );
  });

  it('hashes two files on two threads at once', async () => {
    const gate = new Int32Array(new SharedArrayBuffer(8));
    const p = pool(2, gate.buffer as SharedArrayBuffer);
    const d = tmp();
    const files = ['a', 'b'].map((n) => {
      const f = path.join(d, n);
      writeFileSync(f, randomBytes(3 * HASH_BUFFER_SIZE));
      return f;
    });
    const hashing = files.map((f) => hashFileInPool(f, false, p));
    // Both threads hold a file open in the middle of reading it: they run at the same time.
    await gateReached(gate, 2);
    expect(p.threads).toBe(2);
    openGate(gate);
    const [a, b] = await Promise.all(hashing);
    expect(a?.sha256).not.toBe(b?.sha256);
    expect(p.started).toBe(2);
  });

  it.each([
    ['grows', (f: string) => appendFileSync(f, 'more')],
    ['shrinks', (f: string) => truncateSync(f, HASH_BUFFER_SIZE)],
  ])('throws E_CONFLICT (changed) when the file %s while it is hashed', async (_what, change) => {
    const gate = new Int32Array(new SharedArrayBuffer(8));
    const p = pool(1, gate.buffer as SharedArrayBuffer);
    const f = path.join(tmp(), 'log');
    writeFileSync(f, randomBytes(4 * HASH_BUFFER_SIZE));
    const hashing = hashFileInPool(f, false, p).catch((e: unknown) => e);
    await gateReached(gate, 1);
    change(f);
    openGate(gate);
    const err = await hashing;
    expect(isStudioError(err, 'E_CONFLICT')).toBe(true);
    expect((err as { details?: { reason?: string; path?: string } }).details).toMatchObject({
      reason: 'changed',
      path: f,
      expectedSize: 4 * HASH_BUFFER_SIZE,
    });
  });

  it('throws the fs errors hashFile throws (ENOENT, ELOOP) and E_CONFLICT for a fifo', async () => {
    const p = pool(1);
    const d = tmp();
    const missing = path.join(d, 'missing');
    const plain = await hashFile(missing).catch((e: unknown) => e);
    const pooled = await hashFileInPool(missing, false, p).catch((e: unknown) => e);
    expect(pooled).toBeInstanceOf(Error);
    expect(pooled).toMatchObject({
      code: 'ENOENT',
      syscall: 'open',
      path: missing,
      errno: (plain as { errno: number }).errno,
    });
    expect((pooled as Error).message).toBe((plain as Error).message);

    writeFileSync(path.join(d, 'target'), 'secret');
    symlinkSync('target', path.join(d, 'link'));
    await expect(hashFileInPool(path.join(d, 'link'), false, p)).rejects.toMatchObject({ code: 'ELOOP' });

    const fifo = path.join(d, 'pipe');
    execFileSync('mkfifo', [fifo]);
    const err = await hashFileInPool(fifo, false, p).catch((e: unknown) => e);
    expect(isStudioError(err, 'E_CONFLICT')).toBe(true);
    expect((err as { details?: { reason?: string } }).details?.reason).toBe('not-regular');
    // The thread survives its failed files.
    expect(p.started).toBe(1);
  });

  it('stops idle threads, and starts them again for the next file', async () => {
    const p = pool(1);
    const f = path.join(tmp(), 'f');
    writeFileSync(f, randomBytes(1000));
    await hashFileInPool(f, false, p);
    expect(p.threads).toBe(1);
    await new Promise((r) => setTimeout(r, POOL_IDLE_MS + 300));
    expect(p.threads).toBe(0);
    expect((await hashFileInPool(f, false, p)).bytesRead).toBe(1000);
    expect(p.started).toBe(2);
  });
});

describe('snapshot with the hash pool', () => {
  it('hashes only files of POOL_HASH_MIN and more in the pool, with the same result', async () => {
    const d = tmp();
    const big = randomBytes(POOL_HASH_MIN);
    writeFileSync(path.join(d, 'small'), randomBytes(1000));
    writeFileSync(path.join(d, 'medium'), big.subarray(0, POOL_HASH_MIN - 1));
    const before = hashPool().started;
    const first = await snapshot(d, { useIgnoreFile: false, md5: true }, null);
    expect(hashPool().started).toBe(before);

    writeFileSync(path.join(d, 'large'), big);
    const s = await snapshot(d, { useIgnoreFile: false, md5: true }, null);
    expect(hashPool().started).toBeGreaterThan(before);
    const large = s.manifest.files.find((f) => f.path === 'large');
    expect(large?.sha256).toBe(digest('sha256', big, 'hex'));
    expect(s.md5s.get(large?.sha256 ?? '')).toBe(digest('md5', big, 'base64'));
    expect(s.manifest.files.filter((f) => f.path !== 'large')).toEqual(first.manifest.files);
    expect(s.stats.hashedFiles).toBe(3);
  });

  it('skips a large file that disappears before it is hashed, as for a small one', async () => {
    const d = tmp();
    writeFileSync(path.join(d, 'large'), randomBytes(POOL_HASH_MIN));
    const walk = await walkFolder(d, { useIgnoreFile: false });
    rmSync(path.join(d, 'large'));
    const s = await snapshotFromWalk(walk, {}, null, Date.now());
    expect(s.skipped).toEqual(['large: disappeared during capture']);
  });
});
