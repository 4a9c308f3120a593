import { generateKeyPairSync } from 'node:crypto';
import { type GetSignedUrlConfig, Storage } from '@google-cloud/storage';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  createGcsBlobStore,
  type GcsUploadConstraint,
  type ResumableStartRequest,
} from '../../src/adapters/gcp/gcs-blob-store.ts';
import { createV4UrlSigner, type V4UrlRequest } from '../../src/adapters/gcp/v4-signer.ts';
import type { SignedRequest } from '../../src/contract/transfer.ts';
import { blobKey, bytes, expectCode, sha256 } from '../conformance/fixtures.ts';
import { GOOGLE_TEST_CLIENT_EMAIL, GOOGLE_V4_VECTORS } from './support/google-v4-vectors.ts';
import { makeServiceAccount } from './support/service-account.ts';
import { verifyV4 } from './support/v4-verifier.ts';

/**
 * Google's vectors keep only the public half of their dummy key, so their signatures cannot be reproduced here.
 * Instead each vector's inputs are signed with a local key under the vectors' client email, and the URL must
 * (a) equal Google's URL except for X-Goog-Signature, (b) equal what @google-cloud/storage getSignedUrl makes for the
 * same inputs, time and key, query parameter by query parameter (RSA PKCS#1 v1.5 is deterministic, so the
 * signature too), and (c) verify with the independent verifier.
 */
const sa = makeServiceAccount('signer');
const googleSa = { client_email: GOOGLE_TEST_CLIENT_EMAIL, private_key: sa.private_key };
const RESERVED = [
  'X-Goog-Algorithm',
  'X-Goog-Credential',
  'X-Goog-Date',
  'X-Goog-Expires',
  'X-Goog-SignedHeaders',
  'X-Goog-Signature',
];
type Signed = SignedRequest | ResumableStartRequest;
const ACTION: Record<string, GetSignedUrlConfig['action']> = { GET: 'read', PUT: 'write', POST: 'resumable' };

/** What getSignedUrl makes at `at` (its expiry check reads the clock, so the clock is pinned there). */
async function sdkUrl(
  key: { client_email: string; private_key: string },
  req: V4UrlRequest,
  base: string,
): Promise<string> {
  const at = Math.floor(req.signedAt.getTime() / 1000) * 1000;
  vi.useFakeTimers({ now: at, toFake: ['Date'] });
  try {
    const [url] = await new Storage({ credentials: key })
      .bucket(req.bucket)
      .file(req.object)
      .getSignedUrl({
        version: 'v4',
        action: ACTION[req.method] as GetSignedUrlConfig['action'],
        accessibleAt: at,
        expires: at + req.expiresInSeconds * 1000,
        host: base,
        extensionHeaders: req.headers ?? {},
        queryParams: req.query ?? {},
      });
    return url;
  } finally {
    vi.useRealTimers();
  }
}

/** Query parameters, decoded and sorted: what two URLs must agree on to mean the same. */
const paramsOf = (url: string) => [...new URL(url).searchParams].sort((a, b) => (a[0] < b[0] ? -1 : 1));
const withoutSignature = (url: string) => {
  const u = new URL(url);
  u.searchParams.delete('X-Goog-Signature');
  return u;
};

function expectSameMeaning(mine: string, theirs: string): void {
  expect(new URL(mine).origin).toBe(new URL(theirs).origin);
  expect(new URL(mine).pathname).toBe(new URL(theirs).pathname);
  expect(paramsOf(mine)).toEqual(paramsOf(theirs));
}

afterEach(() => {
  vi.useRealTimers();
});

describe('V4 URL signer', () => {
  it("Google's V4 test vectors: same URL as Google's (but the signature), as getSignedUrl's, and it verifies", async () => {
    expect(GOOGLE_V4_VECTORS.length).toBeGreaterThan(20);
    for (const v of GOOGLE_V4_VECTORS) {
      const google = new URL(v.url);
      const bucket = decodeURIComponent(google.pathname.split('/')[1] as string);
      const query = Object.fromEntries([...google.searchParams].filter(([k]) => !RESERVED.includes(k)));
      const req: V4UrlRequest = {
        method: v.method,
        bucket,
        object: v.object,
        headers: v.headers,
        query,
        signedAt: new Date(v.timestamp),
        expiresInSeconds: v.expiration,
      };
      const mine = createV4UrlSigner(googleSa, google.origin).signUrl(req);

      // (a) Google's URL, byte for byte once both lose the signature (and `:443`, which URL drops).
      expect(withoutSignature(mine).href, v.description).toBe(withoutSignature(v.url).href);
      expect(new URL(mine).pathname, v.description).toBe(google.pathname);
      expect(new URL(mine).searchParams.get('X-Goog-Signature'), v.description).toMatch(/^[0-9a-f]{512}$/);

      // (b) getSignedUrl's URL, parameter by parameter, signature included.
      expectSameMeaning(mine, await sdkUrl(googleSa, req, google.origin));

      // (c) the independent verifier accepts it for the request the vector describes (and nothing else).
      const request = { method: v.method, url: mine, headers: { host: new URL(mine).host, ...v.headers } };
      const at = new Date(Date.parse(v.timestamp) + 1000);
      const r = verifyV4(request, sa.publicKeyPem, at);
      expect(r.ok, `${v.description}: ${r.ok ? '' : r.reason}`).toBe(true);
      expect(r.ok && r.object, v.description).toBe(v.object);
      expect(verifyV4({ ...request, method: v.method === 'GET' ? 'PUT' : 'GET' }, sa.publicKeyPem, at).ok).toBe(false);
    }
  });

  it('names and query values that need percent-encoding: same as getSignedUrl, and they verify', async () => {
    const signer = createV4UrlSigner(sa);
    const signedAt = new Date();
    for (const object of ['dir/a b+c!(x)*~.txt', 'ünï/çødé', 'amper&sand/?q=1#frag', "quote's", 'a//b/', '%41']) {
      const req: V4UrlRequest = {
        method: 'GET',
        bucket: 'studio-lite-test',
        object,
        query: { 'response-content-disposition': 'attachment; filename="ö x.bin"' },
        signedAt,
        expiresInSeconds: 60,
      };
      const mine = signer.signUrl(req);
      expect(mine).toBe(await sdkUrl(sa, req, 'https://storage.googleapis.com'));
      const r = verifyV4({ method: 'GET', url: mine, headers: { host: 'storage.googleapis.com' } }, sa.publicKeyPem);
      expect(r.ok, r.ok ? '' : r.reason).toBe(true);
      expect(r.ok && r.object).toBe(object);
    }
  });

  it('the adapter with a key makes the very URLs it made through getSignedUrl (uploads, resumable, downloads)', async () => {
    vi.useFakeTimers({ now: Date.parse('2025-06-01T12:34:56.789Z'), toFake: ['Date'] });
    const expiresAt = new Date(Date.now() + 15 * 60_000);
    for (const base of [undefined, 'http://127.0.0.1:9199']) {
      const bucket = 'studio-lite-test';
      const over = base ? { signedUrlBase: base } : {};
      const local = createGcsBlobStore({ bucket, credentials: sa, ...over });
      // No key given: signs through the client's auth (here a JWT with the same key, so still offline).
      const viaSdk = createGcsBlobStore({ bucket, storage: new Storage({ credentials: sa }), ...over });
      const data = bytes(1234, 3);
      const key = blobKey('team-a', sha256(data));
      const c: GcsUploadConstraint = { size: data.length, sha256: sha256(data), expiresAt };
      const pairs: [Signed, Signed][] = [];
      for (const extra of [{}, { md5: 'bWQ1' }, { crc32c: 'AAAAAA==' }, { md5: 'bWQ1', crc32c: 'AAAAAA==' }]) {
        pairs.push([await local.signUpload(key, { ...c, ...extra }), await viaSdk.signUpload(key, { ...c, ...extra })]);
      }
      pairs.push([await local.signResumableUpload(key, c), await viaSdk.signResumableUpload(key, c)]);
      pairs.push([await local.signDownload(key, expiresAt), await viaSdk.signDownload(key, expiresAt)]);
      const noOverwrite = createGcsBlobStore({ bucket, credentials: sa, createOnly: false, ...over });
      const noOverwriteSdk = createGcsBlobStore({
        bucket,
        storage: new Storage({ credentials: sa }),
        createOnly: false,
        ...over,
      });
      pairs.push([await noOverwrite.signUpload(key, c), await noOverwriteSdk.signUpload(key, c)]);
      for (const [mine, theirs] of pairs) {
        expect(mine).toEqual(theirs);
        const headers = { host: new URL(mine.url).host, ...mine.headers };
        const r = verifyV4({ method: mine.method, url: mine.url, headers }, sa.publicKeyPem);
        expect(r.ok, r.ok ? '' : r.reason).toBe(true);
        expect(r.ok && Object.keys(r.signedHeaders).sort()).toEqual(Object.keys(headers).sort());
      }
    }
  });

  it('refuses what GCS or the algorithm would not take', async () => {
    const signer = createV4UrlSigner(sa);
    const req: V4UrlRequest = { method: 'GET', bucket: 'b', object: 'o', signedAt: new Date(), expiresInSeconds: 60 };
    for (const expiresInSeconds of [0, -1, 1.5, 604801, Number.NaN]) {
      expect(() => signer.signUrl({ ...req, expiresInSeconds })).toThrow(/expiry/);
    }
    expect(() => signer.signUrl({ ...req, expiresInSeconds: 604800 })).not.toThrow();
    expect(() => signer.signUrl({ ...req, signedAt: new Date(Number.NaN) })).toThrow(/signedAt/);
    expect(() => signer.signUrl({ ...req, query: { 'x-goog-signature': 'ab' } })).toThrow(/reserved/);
    expect(() => signer.signUrl({ ...req, headers: { Host: 'evil.example' } })).toThrow(/host/);
    expect(() => signer.signUrl({ ...req, headers: { 'a:b': 'x' } })).toThrow(/header name/);
    expect(() => signer.signUrl({ ...req, headers: { a: 'x\r\nb: y' } })).toThrow(/line break/);
    expect(() => signer.signUrl({ ...req, headers: { 'X-Goog-Content-SHA256': 'not hex' } })).toThrow(/hex/);
    const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' });
    expect(() => createV4UrlSigner({ client_email: sa.client_email, private_key: ec.toString() })).toThrow(/RSA/);
    expect(() => createV4UrlSigner({ client_email: '', private_key: sa.private_key })).toThrow(/client_email/);

    // Through the adapter: a broken key is E_INTERNAL, bad keys and expiries keep their codes.
    const broken = createGcsBlobStore({
      bucket: 'b',
      credentials: { client_email: sa.client_email, private_key: 'x' },
    });
    await expectCode(broken.signDownload('k', new Date(Date.now() + 60_000)), 'E_INTERNAL');
    const store = createGcsBlobStore({ bucket: 'b', credentials: sa });
    await expectCode(store.signDownload('../k', new Date(Date.now() + 60_000)), 'E_BAD_PATH');
    await expectCode(store.signDownload('k', new Date(Date.now() - 1000)), 'E_BAD_REQUEST');
    await expectCode(store.signDownload('k', new Date(Date.now() + 8 * 24 * 3600_000)), 'E_BAD_REQUEST');
  });

  it('throughput: signs 5,000 upload URLs (printed, not asserted)', async () => {
    const bucket = 'studio-lite-test';
    const expiresAt = new Date(Date.now() + 10 * 60_000);
    const rate = async (store: ReturnType<typeof createGcsBlobStore>, n: number) => {
      const urls = new Set<string>();
      const started = performance.now();
      for (let i = 0; i < n; i++) {
        const sha = sha256(`blob ${i}`);
        urls.add((await store.signUpload(blobKey('team-a', sha), { size: i, sha256: sha, expiresAt })).url);
      }
      const s = (performance.now() - started) / 1000;
      expect(urls.size).toBe(n);
      return { urls: [...urls], perSecond: Math.round(n / s), msEach: (s * 1000) / n };
    };
    const sdk = await rate(createGcsBlobStore({ bucket, storage: new Storage({ credentials: sa }) }), 500);
    const local = await rate(createGcsBlobStore({ bucket, credentials: sa }), 5000);
    console.info(
      `[v4-signer] getSignedUrl: ${sdk.perSecond} URLs/s (${sdk.msEach.toFixed(3)} ms each, 500 URLs); ` +
        `local signer: ${local.perSecond} URLs/s (${local.msEach.toFixed(3)} ms each, 5000 URLs)`,
    );
    const last = local.urls.at(-1) as string;
    const headers = {
      host: new URL(last).host,
      'content-type': 'application/octet-stream',
      'x-goog-content-length-range': '4999,4999',
      'x-goog-if-generation-match': '0',
    };
    const r = verifyV4({ method: 'PUT', url: last, headers }, sa.publicKeyPem);
    expect(r.ok, r.ok ? '' : r.reason).toBe(true);
  });
});
