import { createHash } from 'node:crypto';
import { CRC32C, Storage } from '@google-cloud/storage';
import { describe, expect, it } from 'vitest';
import { createGcsBlobStore, type GcsUploadConstraint } from '../../src/adapters/gcp/gcs-blob-store.ts';
import type { SignedRequest } from '../../src/contract/transfer.ts';
import { blobKey, bytes, inMinutes, sha256 } from '../conformance/fixtures.ts';
import { GOOGLE_TEST_CLIENT_EMAIL, GOOGLE_TEST_PUBLIC_KEY, GOOGLE_V4_VECTORS } from './support/google-v4-vectors.ts';
import { makeServiceAccount } from './support/service-account.ts';
import { type V4Request, type V4Result, verifyV4 } from './support/v4-verifier.ts';

const sa = makeServiceAccount('signer');
const other = makeServiceAccount('signer'); // same email, different key
const BUCKET = 'studio-lite-test';
const store = createGcsBlobStore({ bucket: BUCKET, credentials: sa });
const key = (data: Uint8Array) => blobKey('team-a', sha256(data));

const md5 = (b: Uint8Array) => createHash('md5').update(b).digest('base64');
const crc32c = (b: Uint8Array) => {
  const c = new CRC32C();
  c.update(Buffer.from(b));
  return c.toString();
};

/** The request a client makes with `req` (fetch adds host and content-length). */
function sent(req: SignedRequest, body?: Uint8Array, over: Partial<V4Request> = {}): V4Request {
  const headers: V4Request['headers'] = { host: new URL(req.url).host, ...req.headers };
  if (body) headers['content-length'] = String(body.length);
  return { method: req.method, url: req.url, headers, ...(body ? { body } : {}), ...over };
}

const signUpload = (data: Uint8Array, extra: Partial<GcsUploadConstraint> = {}, expiresAt = inMinutes(10)) =>
  store.signUpload(key(data), { size: data.length, sha256: sha256(data), expiresAt, ...extra } as GcsUploadConstraint);

function expectFail(r: V4Result, code?: string): void {
  expect(r.ok, 'expected the verifier to refuse').toBe(false);
  if (!r.ok && code) expect(r.code, r.reason).toBe(code);
}

describe('V4 verifier', () => {
  it("accepts Google's own V4 test vectors (signed outside this repo)", () => {
    for (const v of GOOGLE_V4_VECTORS) {
      const req = { method: v.method, url: v.url, headers: { host: new URL(v.url).host, ...v.headers } };
      const at = new Date(Date.parse(v.timestamp) + 1000);
      const r = verifyV4(req, GOOGLE_TEST_PUBLIC_KEY, at);
      expect(r.ok, `${v.description}: ${r.ok ? '' : r.reason}`).toBe(true);
      if (r.ok) {
        expect(r.object, v.description).toBe(v.object);
        expect(r.clientEmail).toBe(GOOGLE_TEST_CLIENT_EMAIL);
      }
      // …and refuses each of them once expired or with the method changed.
      expectFail(
        verifyV4(req, GOOGLE_TEST_PUBLIC_KEY, new Date(Date.parse(v.timestamp) + v.expiration * 1000)),
        'ExpiredToken',
      );
      expectFail(verifyV4({ ...req, method: v.method === 'GET' ? 'DELETE' : 'GET' }, GOOGLE_TEST_PUBLIC_KEY, at));
    }
  });

  it('every URL the adapter signs verifies (uploads of several sizes, with and without hashes, and downloads)', async () => {
    for (const size of [0, 1, 5000, 1 << 20]) {
      const data = bytes(size, size + 1);
      for (const extra of [
        {},
        { md5: md5(data) },
        { crc32c: crc32c(data) },
        { md5: md5(data), crc32c: crc32c(data) },
      ]) {
        const req = await signUpload(data, extra);
        const r = verifyV4(sent(req, data), sa.publicKeyPem);
        expect(r.ok, r.ok ? '' : r.reason).toBe(true);
        if (r.ok) {
          expect(r.bucket).toBe(BUCKET);
          expect(r.object).toBe(key(data));
          expect(r.clientEmail).toBe(sa.client_email);
          expect(r.signedHeaders['x-goog-content-length-range']).toBe(`${size},${size}`);
          expect(Math.abs(r.expiresAt.getTime() - Date.parse(req.expiresAt))).toBeLessThanOrEqual(1000);
        }
      }
    }
    const get = await store.signDownload(key(bytes(3)), inMinutes(5));
    const r = verifyV4(sent(get), sa.publicKeyPem);
    expect(r.ok, r.ok ? '' : r.reason).toBe(true);
    expect(r.ok && r.signedHeaders).toEqual({ host: 'storage.googleapis.com' });
  });

  it('the upload headers the adapter returns are exactly the signed ones (besides host)', async () => {
    const data = bytes(10);
    const req = await signUpload(data, { md5: md5(data) });
    const signed = new URL(req.url).searchParams.get('X-Goog-SignedHeaders')?.split(';');
    expect(signed).toEqual([
      'content-type',
      'host',
      'x-goog-content-length-range',
      'x-goog-hash',
      'x-goog-if-generation-match',
    ]);
    expect(Object.keys(req.headers).sort()).toEqual(signed?.filter((h) => h !== 'host'));
  });

  it('a changed method fails', async () => {
    const data = bytes(100);
    const put = await signUpload(data);
    for (const method of ['GET', 'POST', 'DELETE', 'HEAD']) {
      expectFail(verifyV4(sent(put, data, { method }), sa.publicKeyPem), 'SignatureDoesNotMatch');
    }
    const get = await store.signDownload(key(data), inMinutes(5));
    for (const method of ['PUT', 'HEAD', 'DELETE']) {
      expectFail(verifyV4(sent(get, undefined, { method }), sa.publicKeyPem), 'SignatureDoesNotMatch');
    }
  });

  it('another object, bucket or host fails', async () => {
    const data = bytes(100);
    const put = await signUpload(data);
    const u = new URL(put.url);
    const variants = [
      u.toString().replace(sha256(data), sha256('other')),
      u.toString().replace(`/${BUCKET}/`, '/another-bucket/'),
      u.toString().replace('/team-a/', '/team-b/'),
    ];
    for (const url of variants)
      expectFail(verifyV4(sent({ ...put, url }, data), sa.publicKeyPem), 'SignatureDoesNotMatch');
    const elsewhere = sent(put, data);
    elsewhere.headers.host = 'evil.example';
    expectFail(verifyV4(elsewhere, sa.publicKeyPem), 'SignatureDoesNotMatch');
  });

  it('a changed, missing or extra-query header value fails', async () => {
    const data = bytes(100);
    const put = await signUpload(data, { md5: md5(data) });
    const tweaks: Record<string, string | undefined>[] = [
      { 'content-type': 'text/html' },
      { 'content-type': undefined },
      { 'x-goog-content-length-range': '0,1000000000' },
      { 'x-goog-content-length-range': undefined },
      { 'x-goog-if-generation-match': undefined },
      { 'x-goog-hash': `md5=${md5(bytes(100, 9))}` },
    ];
    for (const t of tweaks) {
      const req = sent(put, data);
      for (const [k, v] of Object.entries(t)) {
        if (v === undefined) delete req.headers[k];
        else req.headers[k] = v;
      }
      expectFail(verifyV4(req, sa.publicKeyPem), 'SignatureDoesNotMatch');
    }
    const u = new URL(put.url);
    u.searchParams.set('X-Goog-Expires', '604800');
    expectFail(verifyV4(sent({ ...put, url: u.toString() }, data), sa.publicKeyPem), 'SignatureDoesNotMatch');
    const extra = new URL(put.url);
    extra.searchParams.set('generation', '1');
    expectFail(verifyV4(sent({ ...put, url: extra.toString() }, data), sa.publicKeyPem), 'SignatureDoesNotMatch');
    const sig = new URL(put.url);
    sig.searchParams.set('X-Goog-Signature', `${sig.searchParams.get('X-Goog-Signature')?.slice(0, -2)}00`);
    expectFail(verifyV4(sent({ ...put, url: sig.toString() }, data), sa.publicKeyPem), 'SignatureDoesNotMatch');
  });

  it('a body of another length fails', async () => {
    const data = bytes(2048);
    const put = await signUpload(data);
    expectFail(verifyV4(sent(put, data.subarray(0, 2047)), sa.publicKeyPem), 'EntityTooSmall');
    expectFail(verifyV4(sent(put, Buffer.concat([data, Buffer.from([0])])), sa.publicKeyPem), 'EntityTooLarge');
    expectFail(verifyV4(sent(put, new Uint8Array(0)), sa.publicKeyPem), 'EntityTooSmall');
  });

  it('bytes that do not match a signed md5 or crc32c fail (same length)', async () => {
    const data = bytes(4096, 1);
    const wrong = bytes(4096, 2);
    for (const extra of [{ md5: md5(data) }, { crc32c: crc32c(data) }]) {
      const put = await signUpload(data, extra);
      expectFail(verifyV4(sent(put, wrong), sa.publicKeyPem), 'BadDigest');
    }
    // Without a signed hash only the length is bound: that is why the backend re-hashes (verifiesOnUpload = false).
    const bare = await signUpload(data);
    expect(verifyV4(sent(bare, wrong), sa.publicKeyPem).ok).toBe(true);
    expect(store.verifiesOnUpload).toBe(false);
  });

  it('an expired URL, or one dated in the future, fails', async () => {
    const data = bytes(10);
    const expiresAt = inMinutes(2);
    const put = await signUpload(data, {}, expiresAt);
    const exp = Math.floor(expiresAt.getTime() / 1000) * 1000;
    expect(verifyV4(sent(put, data), sa.publicKeyPem, new Date(exp - 1000)).ok).toBe(true);
    expectFail(verifyV4(sent(put, data), sa.publicKeyPem, new Date(exp)), 'ExpiredToken');
    expectFail(verifyV4(sent(put, data), sa.publicKeyPem, new Date(exp + 3600_000)), 'ExpiredToken');
    expectFail(verifyV4(sent(put, data), sa.publicKeyPem, new Date(Date.now() - 3600_000)), 'RequestNotYetValid');
  });

  it('a URL signed by another key fails', async () => {
    const data = bytes(10);
    const put = await signUpload(data);
    expectFail(verifyV4(sent(put, data), other.publicKeyPem), 'SignatureDoesNotMatch');
    const impostor = createGcsBlobStore({ bucket: BUCKET, credentials: other });
    const forged = await impostor.signUpload(key(data), { size: 10, sha256: sha256(data), expiresAt: inMinutes(5) });
    expect(new URL(forged.url).searchParams.get('X-Goog-Credential')).toBe(
      new URL(put.url).searchParams.get('X-Goog-Credential'),
    );
    expectFail(verifyV4(sent(forged, data), sa.publicKeyPem), 'SignatureDoesNotMatch');
  });

  it('object names and query values that need percent-encoding round-trip through the library', async () => {
    const storage = new Storage({ credentials: sa });
    for (const name of ['dir/a b+c!(x)*~.txt', 'ünï/çødé', 'amper&sand/?q=1#frag', "quote's"]) {
      const [url] = await storage
        .bucket(BUCKET)
        .file(name)
        .getSignedUrl({
          version: 'v4',
          action: 'read',
          expires: Date.now() + 60_000,
          host: 'https://storage.googleapis.com',
          responseDisposition: 'attachment; filename="ö x.bin"',
        });
      const r = verifyV4({ method: 'GET', url, headers: { host: 'storage.googleapis.com' } }, sa.publicKeyPem);
      expect(r.ok, r.ok ? '' : r.reason).toBe(true);
      expect(r.ok && r.object).toBe(name);
    }
  });
});
