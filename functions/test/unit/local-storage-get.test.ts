import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DiskBlobStore } from '../../src/adapters/local/disk-blob-store.ts';
import { type LocalServer, startLocalServer } from '../../src/hosts/local-server/server.ts';

// A signed GET must answer with a status that matches what it sends: once a 200 and its content-length are out, a
// failed read can only cut the body short, which a client sees as "200 with 0 of N bytes".
describe('local storage host: GET answers errors before the headers', () => {
  let home: string;
  let server: LocalServer;
  let store: DiskBlobStore;
  const get = async (key: string) => {
    const req = await store.signDownload(key, new Date(Date.now() + 60_000));
    return fetch(req.url, { method: req.method, headers: req.headers });
  };

  beforeAll(async () => {
    home = await mkdtemp(join(tmpdir(), 'sl-get-'));
    server = await startLocalServer({ home });
    store = server.backend.blobs as DiskBlobStore;
  });
  afterAll(async () => {
    await server.close();
    await rm(home, { recursive: true, force: true });
  });

  it('serves a stored object whole', async () => {
    const file = store.fileOf('probe/whole');
    await mkdir(join(file, '..'), { recursive: true });
    await writeFile(file, Buffer.alloc(4096, 7));
    const res = await get('probe/whole');
    expect(res.status).toBe(200);
    expect((await res.arrayBuffer()).byteLength).toBe(4096);
  });

  it('a key that names a folder is 404, not a 200 whose body never comes', async () => {
    await mkdir(store.fileOf('probe/folder'), { recursive: true });
    const res = await get('probe/folder');
    expect(res.status).toBe(404);
    expect(await res.json()).toMatchObject({ error: { code: 'E_NOT_FOUND' } });
  });

  it('a missing object is 404', async () => {
    const res = await get('probe/missing');
    expect(res.status).toBe(404);
  });
});
