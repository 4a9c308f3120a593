/**
 * The in-process API of the embedded backend (hosts/local-server/local-api.ts): requests answered without a socket,
 * and the local storage host asked for only when a URL is signed. Blob transfers go through a real local host.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanUploadResponse } from '../../src/contract/wire.ts';
import { IN_PROCESS_ORIGIN, type LocalApi, openLocalApi } from '../../src/hosts/local-server/local-api.ts';
import { type LocalServer, startLocalServer } from '../../src/hosts/local-server/server.ts';
import { sha256 } from '../api/helpers.ts';

let home: string;
let api: LocalApi;
let host: LocalServer | null = null;
let asked = 0;

beforeAll(async () => {
  home = await mkdtemp(join(tmpdir(), 'sl-local-api-'));
  api = await openLocalApi(home, {
    storageHost: async () => {
      asked += 1;
      host ??= await startLocalServer({ home });
      return host.url;
    },
  });
});
afterAll(async () => {
  await api.close();
  await host?.close();
  await rm(home, { recursive: true, force: true });
});

async function call<T>(method: string, path: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await api.fetch(`${api.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${api.token}`, 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return { status: res.status, body: (await res.json()) as T };
}

describe('openLocalApi', () => {
  it('answers without a socket: the origin is never a real host', async () => {
    expect(api.url).toBe(IN_PROCESS_ORIGIN);
    const r = await call<{ experiments: unknown[] }>('GET', '/v1/experiments');
    expect(r.status).toBe(200);
    expect(r.body.experiments).toEqual([]);
  });

  it('asks for the storage host only when a URL is signed, and its URLs work', async () => {
    expect((await call('POST', '/v1/experiments', { key: 'e1' })).status).toBe(201);
    const empty = sha256(new Uint8Array(0));
    const nothingToSend = await call<PlanUploadResponse>('POST', '/v1/experiments/e1/artifacts/w/uploads', {
      blobs: [{ sha256: empty, size: 0 }],
    });
    expect(nothingToSend.body).toEqual({ uploads: [], packs: [], present: 1 });
    expect(asked).toBe(0);

    const data = Buffer.alloc(300 * 1024, 7); // over the pack limit: one signed PUT of its own
    const plan = await call<PlanUploadResponse>('POST', '/v1/experiments/e1/artifacts/w/uploads', {
      blobs: [{ sha256: sha256(data), size: data.length }],
    });
    expect(asked).toBe(1);
    const upload = plan.body.uploads[0];
    expect(upload?.request.url.startsWith(`${host?.url}/storage/`)).toBe(true);
    const put = await fetch(upload?.request.url ?? '', {
      method: 'PUT',
      headers: upload?.request.headers,
      body: data,
    });
    expect(put.status).toBe(201);
    const commit = await call<{ version: { version: number } }>('POST', '/v1/experiments/e1/artifacts/w/versions', {
      mutable: true,
      manifest: {
        files: [
          { path: 'w.bin', size: data.length, sha256: sha256(data), mode: 0o644, mtime: 0 },
          { path: 'empty', size: 0, sha256: empty, mode: 0o644, mtime: 0 },
        ],
        links: [],
      },
    });
    expect(commit.status).toBe(201);
    expect(commit.body.version.version).toBe(1);
  });
});
