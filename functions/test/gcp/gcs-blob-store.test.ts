import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import {
  createGcsBlobStore,
  type GcsBlobStore,
  type GcsUploadConstraint,
} from '../../src/adapters/gcp/gcs-blob-store.ts';
import type { SignedRequest } from '../../src/contract/transfer.ts';
import { testBlobStore } from '../conformance/blob-store-suite.ts';
import { blobKey, bytes, expectCode, inMinutes, readAll, sha256, uid } from '../conformance/fixtures.ts';
import { makeServiceAccount } from './support/service-account.ts';
import { type StorageGateway, startStorageGateway } from './support/storage-gateway.ts';
import { verifyV4 } from './support/v4-verifier.ts';

const emulatorHost = inject('storageHost');
process.env.STORAGE_EMULATOR_HOST = emulatorHost;
const sa = makeServiceAccount();
const admin = new Storage({ apiEndpoint: emulatorHost, projectId: 'demo-studio-lite' });
let gateway: StorageGateway;

beforeAll(async () => {
  gateway = await startStorageGateway({ emulatorHost, keys: { [sa.client_email]: sa.publicKeyPem } });
});
afterAll(async () => {
  await gateway?.close();
});

/** What a client does with a signed request. */
const send = (req: SignedRequest, body?: Uint8Array) =>
  fetch(req.url, { method: req.method, headers: req.headers, body: body && Buffer.from(body) });

/** A store on a bucket of its own whose signed URLs point at the gateway. */
function makeStore(bucket = uid('bkt')): { store: GcsBlobStore; bucket: string } {
  return {
    bucket,
    store: createGcsBlobStore({ bucket, credentials: sa, apiEndpoint: emulatorHost, signedUrlBase: gateway.url }),
  };
}

testBlobStore({
  name: 'gcs (firebase storage emulator + V4 gateway)',
  async make() {
    const { store, bucket } = makeStore();
    return {
      store,
      upload: send,
      download: (req) => send(req),
      async cleanup() {
        await admin.bucket(bucket).deleteFiles({ force: true });
      },
    };
  },
});

describe('gcs adapter extras', () => {
  const team = 'team-x';
  const keyOf = (data: Uint8Array) => blobKey(team, sha256(data));

  it('signs 1,000 upload URLs locally (throughput is printed, not asserted)', async () => {
    const { store } = makeStore();
    const expiresAt = inMinutes(10);
    const started = performance.now();
    const urls = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const sha = sha256(`blob ${i}`);
      urls.add((await store.signUpload(blobKey(team, sha), { size: i, sha256: sha, expiresAt })).url);
    }
    const seconds = (performance.now() - started) / 1000;
    console.info(`[gcs] signed 1000 V4 upload URLs in ${seconds.toFixed(2)} s = ${Math.round(1000 / seconds)} URLs/s`);
    expect(urls.size).toBe(1000);
    const last = [...urls].at(-1) as string;
    const r = verifyV4(
      {
        method: 'PUT',
        url: last,
        headers: {
          host: new URL(last).host,
          'content-type': 'application/octet-stream',
          'x-goog-content-length-range': '999,999',
          'x-goog-if-generation-match': '0',
        },
      },
      sa.publicKeyPem,
    );
    expect(r.ok, r.ok ? '' : r.reason).toBe(true);
  });

  it('a signed URL reused for another object, bucket or method is refused by the gateway', async () => {
    const { store, bucket } = makeStore();
    const data = bytes(512, 1);
    const put = await store.signUpload(keyOf(data), { size: 512, sha256: sha256(data), expiresAt: inMinutes(5) });
    const otherKey = keyOf(bytes(512, 2));
    const attempts: [SignedRequest, Uint8Array | undefined][] = [
      [{ ...put, url: put.url.replace(keyOf(data), otherKey) }, data],
      [{ ...put, url: put.url.replace(`/${bucket}/`, '/someone-elses-bucket/') }, data],
      [{ ...put, method: 'POST' as 'PUT' }, data],
      [{ ...put, method: 'GET', headers: {} }, undefined],
    ];
    for (const [req, body] of attempts) {
      const res = await send(req, body);
      expect(res.status, `${req.method} ${req.url}`).toBe(403);
      expect(await res.text()).toContain('<Code>SignatureDoesNotMatch</Code>');
    }
    await store.put(keyOf(data), data, 'application/octet-stream');
    const get = await store.signDownload(keyOf(data), inMinutes(5));
    for (const req of [
      { ...get, method: 'PUT' as const, headers: { 'content-type': 'application/octet-stream' } },
      { ...get, method: 'DELETE' as 'GET' },
      { ...get, url: get.url.replace(keyOf(data), otherKey) },
    ]) {
      const res = await send(req, req.method === 'PUT' ? bytes(512, 3) : undefined);
      expect(res.status, `${req.method} ${req.url}`).toBe(403);
      await res.body?.cancel();
    }
    expect(sha256(await store.get(keyOf(data)))).toBe(sha256(data));
    expect(await store.stat(otherKey)).toBeNull();
    expect(await admin.bucket('someone-elses-bucket').file(keyOf(data)).exists()).toEqual([false]);
  });

  it('an upload URL creates only: it cannot overwrite the object it already wrote (412)', async () => {
    const { store } = makeStore();
    const data = bytes(300, 4);
    const put = await store.signUpload(keyOf(data), { size: 300, sha256: sha256(data), expiresAt: inMinutes(5) });
    expect((await send(put, data)).status).toBe(200);
    const again = await send(put, bytes(300, 5));
    expect(again.status).toBe(412);
    expect(sha256(await store.get(keyOf(data)))).toBe(sha256(data));
  });

  it('without a signed md5/crc32c GCS stores wrong bytes of the right size: the backend must re-hash', async () => {
    const { store } = makeStore();
    const data = bytes(1000, 6);
    const put = await store.signUpload(keyOf(data), { size: 1000, sha256: sha256(data), expiresAt: inMinutes(5) });
    expect((await send(put, bytes(1000, 7))).ok).toBe(true);
    expect(store.verifiesOnUpload).toBe(false);
    // What the backend's verification step does: stream the object and compare its sha256 with the key.
    expect(sha256(await readAll(await store.read(keyOf(data))))).not.toBe(sha256(data));
  });

  it('with a signed md5 the gateway (like GCS) refuses wrong bytes and stores nothing', async () => {
    const { store } = makeStore();
    const data = bytes(1000, 8);
    const md5 = createHash('md5').update(data).digest('base64');
    const c: GcsUploadConstraint = { size: 1000, sha256: sha256(data), expiresAt: inMinutes(5), md5 };
    const put = await store.signUpload(keyOf(data), c);
    const bad = await send(put, bytes(1000, 9));
    expect(bad.status).toBe(400);
    expect(await bad.text()).toContain('<Code>BadDigest</Code>');
    expect(await store.stat(keyOf(data))).toBeNull();
    expect((await send(put, data)).ok).toBe(true);
  });

  it('resumable upload: a session survives an interruption and resumes at the offset it reports', async () => {
    const { store } = makeStore();
    const data = bytes(5 * 256 * 1024 + 123, 10);
    const total = data.length;
    const start = await store.signResumableUpload(keyOf(data), {
      size: total,
      sha256: sha256(data),
      expiresAt: inMinutes(5),
    });
    expect(start.headers['x-goog-resumable']).toBe('start');
    const opened = await fetch(start.url, { method: 'POST', headers: start.headers });
    expect(opened.status).toBe(201);
    const session = opened.headers.get('location') as string;
    const put = (body: Uint8Array, range: string) =>
      fetch(session, { method: 'PUT', headers: { 'content-range': range }, body: Buffer.from(body) });
    const chunk = 2 * 256 * 1024;
    const first = await put(data.subarray(0, chunk), `bytes 0-${chunk - 1}/*`);
    expect(first.status).toBe(308);
    // "Interrupted": the client forgets what it sent and asks the session where to continue.
    const status = await put(new Uint8Array(0), `bytes */${total}`);
    expect(status.status).toBe(308);
    const offset = Number(/bytes=0-(\d+)/.exec(status.headers.get('range') ?? '')?.[1]) + 1;
    expect(offset).toBe(chunk);
    expect(await store.stat(keyOf(data))).toBeNull();
    const done = await put(data.subarray(offset), `bytes ${offset}-${total - 1}/${total}`);
    expect(done.status).toBe(200);
    expect(sha256(await store.get(keyOf(data)))).toBe(sha256(data));
    // The start URL is bound like a PUT URL: another object or a missing header is refused.
    const tampered = await fetch(start.url.replace(sha256(data), sha256('x')), {
      method: 'POST',
      headers: start.headers,
    });
    expect(tampered.status).toBe(403);
    const { 'x-goog-resumable': _, ...noResumable } = start.headers;
    expect((await fetch(start.url, { method: 'POST', headers: noResumable })).status).toBe(403);
  });

  it('resumable upload: a total other than the signed size is refused and nothing is stored', async () => {
    const { store } = makeStore();
    const data = bytes(1000, 11);
    const start = await store.signResumableUpload(keyOf(data), {
      size: 1000,
      sha256: sha256(data),
      expiresAt: inMinutes(5),
    });
    const session = (await fetch(start.url, { method: 'POST', headers: start.headers })).headers.get(
      'location',
    ) as string;
    const longer = Buffer.concat([data, Buffer.from([1])]);
    const res = await fetch(session, {
      method: 'PUT',
      headers: { 'content-range': 'bytes 0-1000/1001' },
      body: longer,
    });
    expect(res.status).toBe(400);
    expect(await store.stat(keyOf(data))).toBeNull();
  });

  it('refuses keys that are not plain relative paths and expiries GCS would refuse', async () => {
    const { store } = makeStore();
    for (const key of ['../x', 'a//b', '/abs', 'a/./b', 'sp ace']) await expectCode(store.get(key), 'E_BAD_PATH');
    const c = { size: 1, sha256: sha256('x') };
    await expectCode(store.signUpload('k', { ...c, expiresAt: new Date(Date.now() - 1000) }), 'E_BAD_REQUEST');
    await expectCode(store.signDownload('k', new Date(Date.now() + 8 * 24 * 3600_000)), 'E_BAD_REQUEST');
  });

  describe('error mapping', () => {
    let server: Server;
    let status = 500;
    let base = '';
    beforeAll(async () => {
      server = createServer((_req, res) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: status, message: 'simulated' } }));
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    /** The SDK reads STORAGE_EMULATOR_HOST in its constructor, so hide it while pointing a client elsewhere. */
    const storeAt = (apiEndpoint: string) => {
      const saved = process.env.STORAGE_EMULATOR_HOST;
      delete process.env.STORAGE_EMULATOR_HOST;
      try {
        const storage = new Storage({ apiEndpoint, retryOptions: { autoRetry: false } });
        return createGcsBlobStore({ bucket: 'b', storage });
      } finally {
        process.env.STORAGE_EMULATOR_HOST = saved;
      }
    };

    it('an unreachable endpoint is E_UNAVAILABLE for every operation', async () => {
      const store = storeAt('http://127.0.0.1:1');
      const k = blobKey(team, sha256('u'));
      await expectCode(store.stat(k), 'E_UNAVAILABLE');
      await expectCode(store.get(k), 'E_UNAVAILABLE');
      await expectCode(store.read(k), 'E_UNAVAILABLE');
      await expectCode(store.put(k, bytes(3), 'application/octet-stream'), 'E_UNAVAILABLE');
      await expectCode(store.delete(k), 'E_UNAVAILABLE');
    });

    it('503 is E_UNAVAILABLE; 403 and 500 are E_INTERNAL with the SDK error as cause', async () => {
      const store = storeAt(base);
      const k = blobKey(team, sha256('s'));
      status = 503;
      await expectCode(store.stat(k), 'E_UNAVAILABLE');
      for (const s of [403, 500]) {
        status = s;
        const err = await expectCode(store.get(k), 'E_INTERNAL');
        expect(err.cause).toBeInstanceOf(Error);
        expect(err.message).not.toContain('simulated');
      }
    });
  });
});
