/**
 * Uploads that name a local file instead of sending its bytes (storage-routes.ts, DiskBlobStore.writeFromFile): only
 * the process holding the host's source key may use them (the CLI's embedded host in its worker thread), the signed
 * URL still binds key, size and sha256, and the kernel's copy is hashed before it becomes the blob.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanUploadResponse } from '../../src/contract/wire.ts';
import { blobKey } from '../../src/core/keys.ts';
import { ensureLocalCredentials } from '../../src/hosts/local-server/local-backend.ts';
import { type LocalServer, startLocalServer } from '../../src/hosts/local-server/server.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const KEY = randomBytes(32).toString('hex');

let server: LocalServer;
let plain: LocalServer;
let token: string;
let plainToken: string;
const homes: string[] = [];
const src = mkdtempSync(join(tmpdir(), 'sl-src-'));

beforeAll(async () => {
  const home = await mkdtemp(join(tmpdir(), 'sl-api-'));
  const home2 = await mkdtemp(join(tmpdir(), 'sl-api-'));
  homes.push(home, home2);
  server = await startLocalServer({ home, sourceKey: KEY });
  token = (await ensureLocalCredentials(home, server.backend.deps)).token;
  plain = await startLocalServer({ home: home2 });
  plainToken = (await ensureLocalCredentials(home2, plain.backend.deps)).token;
});
afterAll(async () => {
  await server?.close();
  await plain?.close();
  for (const h of [...homes, src]) await rm(h, { recursive: true, force: true });
});

async function plan(s: LocalServer, bearer: string, data: Buffer) {
  const key = `src-${randomBytes(4).toString('hex')}`;
  const h = { authorization: `Bearer ${bearer}`, 'content-type': 'application/json' };
  expect(
    (await fetch(`${s.url}/v1/experiments`, { method: 'POST', headers: h, body: JSON.stringify({ key }) })).status,
  ).toBe(201);
  const res = await fetch(`${s.url}/v1/experiments/${key}/artifacts/w/uploads`, {
    method: 'POST',
    headers: h,
    body: JSON.stringify({ blobs: [{ sha256: sha(data), size: data.length }] }),
  });
  const body = (await res.json()) as PlanUploadResponse;
  const up = body.uploads[0];
  if (!up) throw new Error('expected a single upload (a blob over 256 KiB)');
  return up.request;
}

function fileOf(data: Buffer): string {
  const f = join(src, `f-${randomBytes(4).toString('hex')}`);
  writeFileSync(f, data);
  return f;
}

const put = (url: string, headers: Record<string, string>) =>
  fetch(url, { method: 'PUT', headers: { ...headers, 'content-length': '0' }, body: new Uint8Array(0) });

describe('uploads naming a local file', () => {
  it('the key holder stores the file: the blob is a private copy with the right bytes', async () => {
    const data = randomBytes(600 * 1024);
    const req = await plan(server, token, data);
    const res = await put(req.url, {
      ...req.headers,
      'x-studio-source': encodeURIComponent(fileOf(data)),
      'x-studio-source-key': KEY,
    });
    expect(res.status, await res.clone().text()).toBe(201);
    const stored = server.backend.blobs.fileOf(blobKey('local', sha(data)));
    expect(sha(readFileSync(stored))).toBe(sha(data));
    expect(statSync(stored).mode & 0o777).toBe(0o400);
  });

  it('a wrong or missing key, or a host started without one (serve), is refused and stores nothing', async () => {
    const data = randomBytes(300 * 1024);
    const file = fileOf(data);
    const req = await plan(server, token, data);
    for (const key of ['0'.repeat(64), '']) {
      const res = await put(req.url, {
        ...req.headers,
        'x-studio-source': encodeURIComponent(file),
        'x-studio-source-key': key,
      });
      expect(res.status).toBe(403);
    }
    const noKey = await put(req.url, { ...req.headers, 'x-studio-source': encodeURIComponent(file) });
    expect(noKey.status).toBe(403);
    expect(existsSync(server.backend.blobs.fileOf(blobKey('local', sha(data))))).toBe(false);
    const other = await plan(plain, plainToken, data);
    const res = await put(other.url, {
      ...other.headers,
      'x-studio-source': encodeURIComponent(file),
      'x-studio-source-key': KEY,
    });
    expect(res.status).toBe(403);
    expect(existsSync(plain.backend.blobs.fileOf(blobKey('local', sha(data))))).toBe(false);
  });

  it('a file whose bytes are not the signed ones (changed since hashed, or another file) is refused', async () => {
    const data = randomBytes(400 * 1024);
    const req = await plan(server, token, data);
    const other = fileOf(randomBytes(400 * 1024));
    const res = await put(req.url, {
      ...req.headers,
      'x-studio-source': encodeURIComponent(other),
      'x-studio-source-key': KEY,
    });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_HASH_MISMATCH');
    const gone = await put(req.url, {
      ...req.headers,
      'x-studio-source': encodeURIComponent(join(src, 'no-such-file')),
      'x-studio-source-key': KEY,
    });
    expect(gone.status).toBe(400);
    expect(existsSync(server.backend.blobs.fileOf(blobKey('local', sha(data))))).toBe(false);
  });
});
