// The test gateway itself (support/storage-gateway.ts, support/sim-link.ts): ranged GETs, the request counts, and the
// simulated wide-area link. These time the gateway, not product code: lower bounds only (a loaded machine may be
// slower, never faster, than the link it simulates), plus one loose upper bound that catches a pacer gone wrong.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createGcsBlobStore } from '../../src/adapters/gcp/gcs-blob-store.ts';
import { blobKey, bytes, inMinutes, sha256, uid } from '../conformance/fixtures.ts';
import { makeServiceAccount } from './support/service-account.ts';
import { createSimulatedLink, Pacer } from './support/sim-link.ts';
import { parseRange, type StorageGateway, startStorageGateway } from './support/storage-gateway.ts';

const emulatorHost = inject('storageHost');
process.env.STORAGE_EMULATOR_HOST = emulatorHost;
const sa = makeServiceAccount();
const admin = new Storage({ apiEndpoint: emulatorHost, projectId: 'demo-studio-lite' });
const keys = { [sa.client_email]: sa.publicKeyPem };
const MB = 1_000_000;

const storeOn = (gateway: StorageGateway, bucket = uid('bkt'), apiEndpoint = emulatorHost) =>
  createGcsBlobStore({ bucket, credentials: sa, apiEndpoint, signedUrlBase: gateway.url });

async function timed<T>(fn: () => Promise<T>): Promise<{ ms: number; value: T }> {
  const t = performance.now();
  const value = await fn();
  return { ms: performance.now() - t, value };
}

describe('storage gateway: ranges and counts', () => {
  let gateway: StorageGateway;
  beforeAll(async () => {
    gateway = await startStorageGateway({ emulatorHost, keys });
  });
  afterAll(() => gateway?.close());

  it('forwards a signed GET with a Range and answers 206 with exactly those bytes', async () => {
    const store = storeOn(gateway);
    const data = bytes(10_000, 1);
    const key = blobKey('t', sha256(data));
    await store.put(key, data, 'application/octet-stream');
    const get = await store.signDownload(key, inMinutes(5));
    for (const [range, start, end] of [
      ['bytes=0-0', 0, 0],
      ['bytes=123-4567', 123, 4567],
      ['bytes=9000-', 9000, 9999],
    ] as const) {
      const res = await fetch(get.url, { headers: { ...get.headers, range } });
      expect(res.status, range).toBe(206);
      expect(res.headers.get('content-range')).toBe(`bytes ${start}-${end}/10000`);
      expect(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(data.subarray(start, end + 1)))).toBe(true);
    }
    const whole = await fetch(get.url);
    expect(whole.status).toBe(200);
    expect((await whole.arrayBuffer()).byteLength).toBe(10_000);
  });

  it('counts every request by method, refused ones included, until reset', async () => {
    const store = storeOn(gateway);
    gateway.resetCounts();
    const data = bytes(300, 2);
    const key = blobKey('t', sha256(data));
    const put = await store.signUpload(key, { size: 300, sha256: sha256(data), expiresAt: inMinutes(5) });
    expect((await fetch(put.url, { method: 'PUT', headers: put.headers, body: Buffer.from(data) })).status).toBe(200);
    const get = await store.signDownload(key, inMinutes(5));
    for (let i = 0; i < 3; i++) await (await fetch(get.url)).arrayBuffer();
    await (await fetch(`${gateway.url}/no/signature`)).arrayBuffer();
    expect(Object.fromEntries(gateway.requests)).toEqual({ PUT: 1, GET: 4 });
    expect(gateway.requestCount()).toBe(5);
    expect(gateway.statuses.get(403)).toBe(1);
    gateway.resetCounts();
    expect(gateway.requestCount()).toBe(0);
  });

  it('cuts the range out of a whole answer when the emulator ignores Range (206, exact bytes)', async () => {
    // A stand-in emulator that always answers 200 with the whole object, whatever the Range.
    const whole = Buffer.from(bytes(5000, 3));
    const fake: Server = createServer((req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': whole.length });
      res.end(req.method === 'HEAD' ? undefined : whole);
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    const fakeHost = `http://127.0.0.1:${(fake.address() as AddressInfo).port}`;
    const gw = await startStorageGateway({ emulatorHost: fakeHost, keys });
    try {
      const get = await storeOn(gw, 'b', fakeHost).signDownload('teams/t/packs/ab/x', inMinutes(5));
      const res = await fetch(get.url, { headers: { range: 'bytes=100-199' } });
      expect(res.status).toBe(206);
      expect(res.headers.get('content-range')).toBe('bytes 100-199/5000');
      expect(Buffer.from(await res.arrayBuffer()).equals(whole.subarray(100, 200))).toBe(true);
      expect((await fetch(get.url)).status).toBe(200);
    } finally {
      await gw.close();
      await new Promise<void>((resolve) => fake.close(() => resolve()));
    }
  });

  it('parseRange reads one range and refuses the rest', () => {
    expect(parseRange('bytes=5-9', 100)).toEqual({ start: 5, end: 9 });
    expect(parseRange('bytes=5-', 100)).toEqual({ start: 5, end: 99 });
    expect(parseRange('bytes=90-200', 100)).toEqual({ start: 90, end: 99 });
    for (const h of ['bytes=0-1,5-6', 'bytes=-5', 'items=0-1', 'bytes=200-300', undefined]) {
      expect(parseRange(h, 100), String(h)).toBeNull();
    }
  });
});

describe('storage gateway: simulated wide-area link', () => {
  const RTT = 30;
  const BPS = 50 * MB;

  it('the pacer meters bytes at its rate, shared by concurrent takers', async () => {
    const p = new Pacer(50 * MB);
    const one = await timed(async () => {
      for (let i = 0; i < 80; i++) await p.take(64 * 1024);
    });
    // 80 x 64 KiB = 5.24 MB at 50 MB/s = 105 ms (a 2 ms burst allowance after idle).
    expect(one.ms).toBeGreaterThanOrEqual(100);
    expect(one.ms).toBeLessThan(1000);
    await new Promise((r) => setTimeout(r, 10));
    const shared = await timed(() =>
      Promise.all(
        [0, 1].map(async () => {
          for (let i = 0; i < 40; i++) await p.take(64 * 1024);
        }),
      ),
    );
    expect(shared.ms).toBeGreaterThanOrEqual(100);
    expect(p.bytes).toBe(160 * 64 * 1024);
  });

  describe('through the gateway (30 ms, 50 MB/s)', () => {
    let gateway: StorageGateway;
    let bucket: string;
    beforeAll(async () => {
      gateway = await startStorageGateway({ emulatorHost, keys, link: { rttMs: RTT, bytesPerSecond: BPS } });
      bucket = uid('bkt');
    });
    afterAll(async () => {
      await gateway?.close();
      await admin
        .bucket(bucket)
        .deleteFiles({ force: true })
        .catch(() => undefined);
    });

    it('a request with no body still costs at least one round trip', async () => {
      const store = storeOn(gateway, bucket);
      const data = bytes(10, 4);
      await store.put(blobKey('t', sha256(data)), data, 'application/octet-stream');
      const get = await store.signDownload(blobKey('t', sha256(data)), inMinutes(5));
      await (await fetch(get.url)).arrayBuffer(); // the connection's first request
      for (let i = 0; i < 3; i++) {
        const { ms } = await timed(async () => (await fetch(get.url)).arrayBuffer());
        expect(ms).toBeGreaterThanOrEqual(RTT - 1);
      }
    });

    it('a 5 MB PUT takes at least 100 ms + one round trip; its GET as long again', async () => {
      const store = storeOn(gateway, bucket);
      const data = bytes(5 * MB, 5);
      const key = blobKey('t', sha256(data));
      const put = await store.signUpload(key, { size: data.length, sha256: sha256(data), expiresAt: inMinutes(5) });
      const before = gateway.link?.up.bytes ?? 0;
      const up = await timed(() => fetch(put.url, { method: 'PUT', headers: put.headers, body: Buffer.from(data) }));
      expect(up.value.status).toBe(200);
      expect(up.ms).toBeGreaterThanOrEqual(100 + RTT - 2);
      expect((gateway.link?.up.bytes ?? 0) - before).toBe(5 * MB);
      const get = await store.signDownload(key, inMinutes(5));
      const down = await timed(async () => Buffer.from(await (await fetch(get.url)).arrayBuffer()));
      expect(down.value.equals(Buffer.from(data))).toBe(true);
      expect(down.ms).toBeGreaterThanOrEqual(100 + RTT - 2);
      expect(down.ms).toBeLessThan(5000);
    });

    it('bandwidth is shared: two concurrent 2.5 MB ranged GETs together take at least 100 ms', async () => {
      const store = storeOn(gateway, bucket);
      const data = bytes(5 * MB, 6);
      const key = blobKey('t', sha256(data));
      await store.put(key, data, 'application/octet-stream');
      const get = await store.signDownload(key, inMinutes(5));
      const half = 2.5 * MB;
      const both = await timed(() =>
        Promise.all(
          [`bytes=0-${half - 1}`, `bytes=${half}-`].map(async (range) => {
            const res = await fetch(get.url, { headers: { range } });
            expect(res.status).toBe(206);
            return Buffer.from(await res.arrayBuffer());
          }),
        ),
      );
      expect(Buffer.concat(both.value).equals(Buffer.from(data))).toBe(true);
      expect(both.ms).toBeGreaterThanOrEqual(100 + RTT - 2);
    });

    it('a new connection pays its handshake round trips when connectRtts is set', async () => {
      const link = createSimulatedLink({ rttMs: RTT, bytesPerSecond: BPS, connectRtts: 2 });
      const gw = await startStorageGateway({ emulatorHost, keys, link });
      try {
        const { ms } = await timed(async () =>
          (await fetch(`${gw.url}/x/y`, { headers: { connection: 'close' } })).text(),
        );
        expect(ms).toBeGreaterThanOrEqual(3 * RTT - 2);
        expect(gw.link).toBe(link);
      } finally {
        await gw.close();
      }
    });
  });
});
