import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { symlinkSync, writeFileSync } from 'node:fs';
import { appendFile } from 'node:fs/promises';
import * as path from 'node:path';
import { isStudioError } from '@studio-lite/functions/contract';
import { describe, expect, it } from 'vitest';
import { hashFile, hashFileSync } from '../../src/capture/hash.ts';
import { useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.each([
  ['hashFile', (p: string, buf?: Buffer) => hashFile(p, buf)],
  ['hashFileSync', async (p: string, buf?: Buffer) => hashFileSync(p, buf)],
])('%s', (_name, hash) => {
  it('returns the sha256, the bytes read and the stat of what was read', async () => {
    const p = path.join(tmp(), 'f');
    const data = randomBytes(100_000);
    writeFileSync(p, data, { mode: 0o640 });
    const h = await hash(p);
    expect(h.sha256).toBe(sha(data));
    expect(h.bytesRead).toBe(100_000);
    expect(h.size).toBe(100_000);
    expect(h.mode & 0o777).toBe(0o640);
  });

  it('reads in several chunks when the buffer is smaller than the file', async () => {
    const p = path.join(tmp(), 'f');
    const data = randomBytes(10_007);
    writeFileSync(p, data);
    expect((await hash(p, Buffer.alloc(1000))).sha256).toBe(sha(data));
  });

  it('hashes an empty file', async () => {
    const p = path.join(tmp(), 'empty');
    writeFileSync(p, '');
    expect(await hash(p)).toMatchObject({ sha256: sha(new Uint8Array(0)), bytesRead: 0 });
  });

  it('refuses to follow a symlink (ELOOP)', async () => {
    const d = tmp();
    writeFileSync(path.join(d, 'target'), 'secret');
    symlinkSync('target', path.join(d, 'link'));
    await expect(hash(path.join(d, 'link'))).rejects.toMatchObject({ code: 'ELOOP' });
  });

  it('does not block on a fifo and reports it as not a regular file', async () => {
    const p = path.join(tmp(), 'pipe');
    execFileSync('mkfifo', [p]);
    const err = await hash(p).catch((e: unknown) => e);
    expect(isStudioError(err, 'E_CONFLICT')).toBe(true);
  });
});

describe('hashFile on a file that changes while it is read', () => {
  it('throws E_CONFLICT when the file grows during hashing', async () => {
    const p = path.join(tmp(), 'log');
    writeFileSync(p, randomBytes(64 * 1024));
    // A 16-byte buffer makes 4096 thread-pool reads, so the append lands in the middle of them.
    const hashing = hashFile(p, Buffer.alloc(16));
    await appendFile(p, 'more');
    const err = await hashing.catch((e: unknown) => e);
    expect(isStudioError(err, 'E_CONFLICT')).toBe(true);
    expect((err as { details?: { reason?: string } }).details?.reason).toBe('changed');
  });
});
