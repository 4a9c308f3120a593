import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { SignedRequest } from '../../src/contract/transfer.ts';
import { packKey } from '../../src/core/keys.ts';
import { packIdOf } from '../../src/core/packs.ts';
import type { BlobStore } from '../../src/core/ports.ts';
import { blobKey, bytes, expectCode, inMinutes, readAll, sha256, sleep, uid } from './fixtures.ts';

export interface BlobStoreHarness {
  store: BlobStore;
  cleanup(): Promise<void>;
  /** Sends `body` with the request's method, url and headers exactly as a client would; enables the signed-URL tests. */
  upload?(req: SignedRequest, body: Uint8Array): Promise<Response>;
  /** Performs a signed GET as a client would; enables the signed-download tests. */
  download?(req: SignedRequest): Promise<Response>;
}

export interface BlobStoreSuiteOptions {
  name: string;
  /** A fresh store per test (it may share a backend: every test uses its own team prefix). */
  make: () => Promise<BlobStoreHarness>;
}

/** Signs with an expiry in the past, or (for backends that refuse that) a short one and waits it out. */
async function signExpired(sign: (expiresAt: Date) => Promise<SignedRequest>): Promise<SignedRequest> {
  try {
    return await sign(new Date(Date.now() - 120_000));
  } catch {
    const expiresAt = new Date(Math.ceil(Date.now() / 1000) * 1000 + 1000);
    const req = await sign(expiresAt);
    await sleep(expiresAt.getTime() - Date.now() + 1100);
    return req;
  }
}

/** The same URL with its last path segment (the object name) replaced. */
function retarget(url: string, lastSegment: string): string {
  const u = new URL(url);
  u.pathname = u.pathname.replace(/[^/]+$/, lastSegment);
  return u.toString();
}

function expectShape(req: SignedRequest, method: 'PUT' | 'GET', expiresAt: Date): void {
  expect(req.method).toBe(method);
  expect(() => new URL(req.url)).not.toThrow();
  expect(new URL(req.url).protocol).toMatch(/^https?:$/);
  expect(typeof req.headers).toBe('object');
  for (const v of Object.values(req.headers)) expect(typeof v).toBe('string');
  const exp = Date.parse(req.expiresAt);
  expect(Number.isNaN(exp)).toBe(false);
  expect(exp).toBeGreaterThan(Date.now());
  expect(Math.abs(exp - expiresAt.getTime())).toBeLessThanOrEqual(1000);
}

/** The BlobStore port contract (see core/ports.ts), run against every adapter. */
export function testBlobStore(opts: BlobStoreSuiteOptions): void {
  describe(`BlobStore conformance: ${opts.name}`, () => {
    let h: BlobStoreHarness;
    let store: BlobStore;
    let team: string;
    /** A blob key for `data` in this test's team. */
    const keyOf = (data: Uint8Array) => blobKey(team, sha256(data));

    beforeEach(async () => {
      h = await opts.make();
      store = h.store;
      team = uid('team');
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('declares verifiesOnUpload as a boolean', () => {
      expect(typeof store.verifiesOnUpload).toBe('boolean');
    });

    it('put then get/stat/read round-trips the bytes', async () => {
      const data = bytes(1000, 2);
      const key = keyOf(data);
      await store.put(key, data, 'application/octet-stream');
      expect(await store.stat(key)).toMatchObject({ size: 1000 });
      // createdAt: when this content was written (GC and pack registration compare it with their clocks).
      expect(Math.abs(Date.parse((await store.stat(key))?.createdAt as string) - Date.now())).toBeLessThan(120_000);
      expect(Buffer.from(await store.get(key)).equals(Buffer.from(data))).toBe(true);
      expect(Buffer.from(await readAll(await store.read(key))).equals(Buffer.from(data))).toBe(true);
    });

    it('stores an empty object', async () => {
      const key = `teams/${team}/manifests/empty`;
      await store.put(key, new Uint8Array(0), 'application/json');
      expect(await store.stat(key)).toMatchObject({ size: 0 });
      expect((await store.get(key)).length).toBe(0);
    });

    it('streams a multi-megabyte object intact through read', async () => {
      const data = bytes(3 * 1024 * 1024 + 17, 3);
      const key = keyOf(data);
      await store.put(key, data, 'application/octet-stream');
      const back = await readAll(await store.read(key));
      expect(back.length).toBe(data.length);
      expect(sha256(back)).toBe(sha256(data));
    });

    it('overwriting a key with the same bytes is idempotent', async () => {
      const data = bytes(64, 4);
      const key = keyOf(data);
      await store.put(key, data, 'application/octet-stream');
      await store.put(key, data, 'application/octet-stream');
      expect(await store.stat(key)).toMatchObject({ size: 64 });
      expect(sha256(await store.get(key))).toBe(sha256(data));
    });

    it('stat of a missing object is null; get and read throw E_NOT_FOUND', async () => {
      const key = blobKey(team, sha256('missing'));
      expect(await store.stat(key)).toBeNull();
      await expectCode(store.get(key), 'E_NOT_FOUND');
      // read may fail on the call or on the first chunk, but must say E_NOT_FOUND either way.
      await expectCode(
        store.read(key).then((it) => readAll(it)),
        'E_NOT_FOUND',
      );
    });

    it('delete removes an object and ignores a missing one', async () => {
      const data = bytes(10, 5);
      const key = keyOf(data);
      await store.put(key, data, 'application/octet-stream');
      await store.delete(key);
      expect(await store.stat(key)).toBeNull();
      await expectCode(store.get(key), 'E_NOT_FOUND');
      await expect(store.delete(key)).resolves.toBeUndefined();
    });

    it('promote moves an object to another key, keeps an existing target, and refuses a missing source', async () => {
      const data = bytes(48, 7);
      const staged = `teams/${team}/uploads/${uid('job')}/${sha256(data)}`;
      const key = keyOf(data);
      await store.put(staged, data, 'application/octet-stream');
      expect(await store.promote(staged, key)).toBe(true);
      expect(await store.stat(staged)).toBeNull();
      expect(sha256(await store.get(key))).toBe(sha256(data));
      await store.put(staged, data, 'application/octet-stream');
      expect(await store.promote(staged, key)).toBe(false);
      expect(await store.stat(staged)).toBeNull();
      expect(await store.stat(key)).toMatchObject({ size: 48 });
      await expectCode(store.promote(staged, key), 'E_NOT_FOUND');
    });

    it('keeps objects of different keys apart (team prefixes do not collide)', async () => {
      const data = bytes(32, 6);
      const other = uid('team');
      await store.put(keyOf(data), data, 'application/octet-stream');
      expect(await store.stat(blobKey(other, sha256(data)))).toBeNull();
    });

    describe('list', () => {
      it('pages through the objects under a prefix in key order, with size and creation time', async () => {
        const before = Date.now() - 2000;
        const blobs = Array.from({ length: 7 }, (_, i) => bytes(10 + i, 40 + i));
        for (const b of blobs) await store.put(keyOf(b), b, 'application/octet-stream');
        // Another team and another folder of this team stay out of the listing.
        await store.put(blobKey(uid('team'), sha256(blobs[0] as Uint8Array)), blobs[0] as Uint8Array, 'x/y');
        await store.put(`teams/${team}/manifests/m1`, bytes(5, 1), 'application/json');
        const prefix = `teams/${team}/blobs/`;
        const expected = blobs.map((b) => ({ key: keyOf(b), size: b.length })).sort((a, b) => (a.key < b.key ? -1 : 1));
        const seen: { key: string; size: number; createdAt: string }[] = [];
        let after: string | undefined;
        for (let page = 0; page < 10; page++) {
          const got = await store.list(prefix, { after, limit: 3 });
          expect(got.length).toBeLessThanOrEqual(3);
          if (got.length === 0) break;
          seen.push(...got);
          after = got[got.length - 1]?.key;
        }
        expect(seen.map(({ key, size }) => ({ key, size }))).toEqual(expected);
        for (const o of seen) {
          const t = Date.parse(o.createdAt);
          expect(t).toBeGreaterThanOrEqual(before);
          expect(t).toBeLessThanOrEqual(Date.now() + 2000);
        }
        // `after` is exclusive and may be any key, present or not.
        const mid = expected[3]?.key as string;
        expect((await store.list(prefix, { after: mid, limit: 10 })).map((o) => o.key)).toEqual(
          expected.slice(4).map((o) => o.key),
        );
        expect(await store.list(`teams/${uid('nobody')}/blobs/`, { limit: 10 })).toEqual([]);
      });

      it('does not list deleted objects', async () => {
        const a = bytes(20, 50);
        const b = bytes(21, 51);
        await store.put(keyOf(a), a, 'application/octet-stream');
        await store.put(keyOf(b), b, 'application/octet-stream');
        await store.delete(keyOf(a));
        expect((await store.list(`teams/${team}/`, { limit: 10 })).map((o) => o.key)).toEqual([keyOf(b)]);
      });
    });

    it('signUpload returns a PUT request with url, headers and a future expiry', async () => {
      const data = bytes(100, 7);
      const expiresAt = inMinutes(10);
      const req = await store.signUpload(keyOf(data), { size: 100, sha256: sha256(data), expiresAt });
      expectShape(req, 'PUT', expiresAt);
      const other = await store.signUpload(keyOf(bytes(100, 8)), {
        size: 100,
        sha256: sha256(bytes(100, 8)),
        expiresAt,
      });
      expect(other.url).not.toBe(req.url);
    });

    it('signDownload returns a GET request with url, headers and a future expiry', async () => {
      const data = bytes(100, 9);
      const expiresAt = inMinutes(5);
      const req = await store.signDownload(keyOf(data), expiresAt);
      expectShape(req, 'GET', expiresAt);
    });

    describe('signed uploads', () => {
      const upload = (req: SignedRequest, body: Uint8Array) =>
        (h.upload as NonNullable<BlobStoreHarness['upload']>)(req, body);
      const sign = (data: Uint8Array, expiresAt = inMinutes(10)) =>
        store.signUpload(keyOf(data), { size: data.length, sha256: sha256(data), expiresAt });

      beforeEach((ctx) => {
        if (!h.upload) ctx.skip();
      });

      it('accepts the right bytes; stat then shows the size', async () => {
        const data = bytes(5000, 10);
        const res = await upload(await sign(data), data);
        expect(res.status, await res.clone().text()).toBeGreaterThanOrEqual(200);
        expect(res.status).toBeLessThan(300);
        expect(await store.stat(keyOf(data))).toMatchObject({ size: 5000 });
        expect(sha256(await store.get(keyOf(data)))).toBe(sha256(data));
      });

      it('accepts an empty blob', async () => {
        const data = new Uint8Array(0);
        const res = await upload(await sign(data), data);
        expect(res.ok).toBe(true);
        expect(await store.stat(keyOf(data))).toMatchObject({ size: 0 });
      });

      it('rejects bytes of the right size but wrong content with 4xx and stores nothing', async (ctx) => {
        if (!store.verifiesOnUpload) ctx.skip();
        const data = bytes(4096, 11);
        const req = await sign(data);
        const res = await upload(req, bytes(4096, 12));
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(await store.stat(keyOf(data))).toBeNull();
        // A failed attempt does not poison the key: the right bytes still go through.
        const retry = await upload(req, data);
        expect(retry.ok).toBe(true);
        expect(await store.stat(keyOf(data))).toMatchObject({ size: 4096 });
      });

      it('rejects a body shorter or longer than the signed size with 4xx and stores nothing', async () => {
        const data = bytes(2048, 13);
        const req = await sign(data);
        for (const body of [data.subarray(0, 2047), Buffer.concat([data, new Uint8Array([1])])]) {
          const res = await upload(req, body);
          expect(res.status).toBeGreaterThanOrEqual(400);
          expect(res.status).toBeLessThan(500);
          expect(await store.stat(keyOf(data))).toBeNull();
        }
      });

      it('rejects an expired URL', async () => {
        const data = bytes(300, 14);
        const req = await signExpired((expiresAt) => sign(data, expiresAt));
        const res = await upload(req, data);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(await store.stat(keyOf(data))).toBeNull();
      });

      it('a URL for key A cannot write key B (tampered path)', async () => {
        const data = bytes(256, 15);
        const keyA = keyOf(data);
        const shaB = sha256('another object');
        const keyB = keyA.replace(/[^/]+$/, shaB);
        const req = await sign(data);
        const res = await upload({ ...req, url: retarget(req.url, shaB) }, data);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(await store.stat(keyB)).toBeNull();
        expect(await store.stat(keyA)).toBeNull();
      });

      it('rejects a tampered signature', async (ctx) => {
        const data = bytes(256, 16);
        const req = await sign(data);
        const u = new URL(req.url);
        const name = [...u.searchParams.keys()].find((k) => /sig/i.test(k));
        if (!name) ctx.skip();
        const sig = u.searchParams.get(name as string) as string;
        u.searchParams.set(name as string, `${sig.slice(0, -2)}${sig.endsWith('AA') ? 'BB' : 'AA'}`);
        const res = await upload({ ...req, url: u.toString() }, data);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(await store.stat(keyOf(data))).toBeNull();
      });

      it('a signed GET URL cannot be used to PUT', async () => {
        const data = bytes(128, 17);
        const get = await store.signDownload(keyOf(data), inMinutes(10));
        const res = await upload({ ...get, method: 'PUT' }, data);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(await store.stat(keyOf(data))).toBeNull();
      });

      /** A pack of `parts` signed for this test's team. */
      const signPack = async (parts: Uint8Array[], expiresAt = inMinutes(10)) => {
        const members = parts.map((p) => ({ size: p.length, sha256: sha256(p) }));
        const id = packIdOf(uid('nonce'), members);
        const key = packKey(team, id);
        return { key, members, req: await store.signPackUpload(key, id, members, expiresAt), expiresAt };
      };

      it('signPackUpload stores the whole body as one object at the pack key, member ranges readable', async () => {
        const parts = [bytes(10, 20), bytes(0, 21), bytes(3000, 22), bytes(1, 23)];
        const { key, req, expiresAt } = await signPack(parts);
        expectShape(req, 'PUT', expiresAt);
        const res = await upload(req, Buffer.concat(parts));
        expect(res.ok, await res.clone().text()).toBe(true);
        expect(await store.stat(key)).toMatchObject({ size: 3011 });
        // No object of its own for any member: the pack is the only copy.
        for (const p of parts) expect(await store.stat(keyOf(p))).toBeNull();
        expect(sha256(await readAll(await store.read(key, { offset: 10, length: 3000 })))).toBe(
          sha256(parts[2] as Uint8Array),
        );
        expect(sha256(await readAll(await store.read(key, { offset: 3010, length: 1 })))).toBe(
          sha256(parts[3] as Uint8Array),
        );
        expect((await readAll(await store.read(key, { offset: 10, length: 0 }))).length).toBe(0);
      });

      it('signPackUpload refuses a body of another length and stores nothing', async () => {
        const parts = [bytes(50, 24), bytes(60, 25)];
        const { key, req } = await signPack(parts);
        const res = await upload(req, Buffer.concat([parts[0] as Uint8Array, bytes(59, 25)]));
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(await store.stat(key)).toBeNull();
      });

      it('signPackUpload on a verifying store rejects a corrupted member and stores nothing', async (ctx) => {
        if (!store.verifiesOnUpload) ctx.skip();
        const parts = [bytes(50, 30), bytes(60, 31)];
        const { key, req } = await signPack(parts);
        const res = await upload(req, Buffer.concat([parts[0] as Uint8Array, bytes(60, 99)]));
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
        expect(await store.stat(key)).toBeNull();
      });

      it('a signed GET of a pack answers one Range with exactly those bytes (206)', async (ctx) => {
        if (!h.download) ctx.skip();
        const parts = [bytes(700, 26), bytes(5000, 27), bytes(33, 28)];
        const { key, req } = await signPack(parts);
        expect((await upload(req, Buffer.concat(parts))).ok).toBe(true);
        const get = await store.signDownload(key, inMinutes(5));
        const res = await (h.download as NonNullable<BlobStoreHarness['download']>)({
          ...get,
          headers: { ...get.headers, range: 'bytes=700-5732' },
        });
        expect(res.status).toBe(206);
        const body = new Uint8Array(await res.arrayBuffer());
        expect(sha256(body)).toBe(sha256(Buffer.concat([parts[1] as Uint8Array, parts[2] as Uint8Array])));
      });
    });

    describe('signed downloads', () => {
      const download = (req: SignedRequest) => (h.download as NonNullable<BlobStoreHarness['download']>)(req);

      beforeEach((ctx) => {
        if (!h.download) ctx.skip();
      });

      it('returns the stored bytes', async () => {
        const data = bytes(70_000, 40);
        await store.put(keyOf(data), data, 'application/octet-stream');
        const res = await download(await store.signDownload(keyOf(data), inMinutes(5)));
        expect(res.status).toBe(200);
        expect(sha256(new Uint8Array(await res.arrayBuffer()))).toBe(sha256(data));
      });

      it('answers 4xx for a missing object', async () => {
        const res = await download(await store.signDownload(blobKey(team, sha256('nothing')), inMinutes(5)));
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      });

      it('rejects an expired URL', async () => {
        const data = bytes(100, 41);
        await store.put(keyOf(data), data, 'application/octet-stream');
        const req = await signExpired((expiresAt) => store.signDownload(keyOf(data), expiresAt));
        const res = await download(req);
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      });

      it('a URL for key A cannot read key B (tampered path)', async () => {
        const a = bytes(100, 42);
        const b = bytes(100, 43);
        const keyA = keyOf(a);
        const keyB = keyA.replace(/[^/]+$/, sha256(b));
        await store.put(keyA, a, 'application/octet-stream');
        await store.put(keyB, b, 'application/octet-stream');
        const req = await store.signDownload(keyA, inMinutes(5));
        const res = await download({ ...req, url: retarget(req.url, sha256(b)) });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      });

      it('a signed PUT URL cannot be used to GET', async () => {
        const data = bytes(100, 44);
        await store.put(keyOf(data), data, 'application/octet-stream');
        const put = await store.signUpload(keyOf(data), { size: 100, sha256: sha256(data), expiresAt: inMinutes(5) });
        const res = await download({ ...put, method: 'GET', headers: {} });
        expect(res.status).toBeGreaterThanOrEqual(400);
        expect(res.status).toBeLessThan(500);
      });
    });
  });
}
