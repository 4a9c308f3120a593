/**
 * Signed storage URLs of the local host: bound to one key, one method, one size and one hash, short lived, and a
 * rejected upload never leaves an object (or a blobs row, or a temp file) behind.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedQuery } from '../../src/adapters/local/hmac-signer.ts';
import type { SignedRequest } from '../../src/contract/transfer.ts';
import type { DownloadResponse, PlanUploadResponse } from '../../src/contract/wire.ts';
import {
  blobKeyOf,
  bytes,
  createExperiment,
  expectError,
  type Harness,
  publish,
  route,
  send,
  sendChunked,
  sha256,
  sleep,
  startHarness,
  storageResult,
  TEAM,
  text,
  uniqueKey,
} from './helpers.ts';

const KiB = 1024;
let h: Harness;
const key = uniqueKey('sig');

beforeAll(async () => {
  h = await startHarness();
  await createExperiment(h, key);
});
afterAll(async () => {
  await h?.close();
});

/** Plans one blob and returns its signed request (a single upload for > 256 KiB, a pack of one otherwise). */
async function planOne(data: Uint8Array, tag = 'model'): Promise<SignedRequest> {
  const res = await h.call<PlanUploadResponse>('POST', route.uploads(key, tag), {
    body: { blobs: [{ sha256: sha256(data), size: data.length }] },
  });
  expect(res.status, res.text).toBe(200);
  const req = res.body.uploads[0]?.request ?? res.body.packs[0]?.request;
  if (!req) throw new Error(`nothing to upload: ${res.text}`);
  return req;
}

/** Asserts the blob is not stored: no object file and no blobs row. */
async function expectNotStored(data: Uint8Array): Promise<void> {
  const sha = sha256(data);
  expect(existsSync(h.fileOfKey(blobKeyOf(TEAM, sha)))).toBe(false);
  const snap = await h.snapshot();
  expect(snap.db.blobs.map((b) => (b as { sha256: string }).sha256)).not.toContain(sha);
  expect(snap.tmp).toEqual([]);
}

async function expectStored(data: Uint8Array): Promise<void> {
  const file = h.fileOfKey(blobKeyOf(TEAM, sha256(data)));
  expect(existsSync(file)).toBe(true);
  const snap = await h.snapshot();
  expect(snap.db.blobs.map((b) => (b as { sha256: string }).sha256)).toContain(sha256(data));
}

/** A copy with one byte flipped (same length, different hash). */
function tamper(data: Uint8Array, at = 0): Uint8Array {
  const out = new Uint8Array(data);
  out[at] = (out[at] ?? 0) ^ 0xff;
  return out;
}

function withQuery(url: string, change: (q: URLSearchParams) => void): string {
  const u = new URL(url);
  change(u.searchParams);
  return u.toString();
}

function withPath(url: string, pathname: string): string {
  const u = new URL(url);
  u.pathname = pathname;
  return u.toString();
}

describe('single uploads', () => {
  it('wrong bytes of the same length -> 400 E_HASH_MISMATCH, no object; the right bytes still work', async () => {
    const data = bytes(300 * KiB, 11);
    const req = await planOne(data);
    const res = await storageResult(await send(req, tamper(data, 1234)));
    expectError(res, 400, 'E_HASH_MISMATCH');
    await expectNotStored(data);
    expect((await send(req, data)).status).toBe(201);
    await expectStored(data);
    // The still-valid URL cannot replace the stored object with other bytes.
    expectError(await storageResult(await send(req, tamper(data, 99))), 400, 'E_HASH_MISMATCH');
    const { readFile } = await import('node:fs/promises');
    expect(Buffer.from(await readFile(h.fileOfKey(blobKeyOf(TEAM, sha256(data))))).equals(Buffer.from(data))).toBe(
      true,
    );
  });

  it('truncated body -> 400 E_SIZE_MISMATCH, no object (with content-length and streamed)', async () => {
    const data = bytes(300 * KiB, 12);
    const req = await planOne(data);
    expectError(await storageResult(await send(req, data.subarray(0, data.length - 1))), 400, 'E_SIZE_MISMATCH');
    await expectNotStored(data);
    const half = data.length / 2;
    expectError(await storageResult(await sendChunked(req, [data.subarray(0, half)])), 400, 'E_SIZE_MISMATCH');
    await expectNotStored(data);
  });

  it('longer body -> 400 E_SIZE_MISMATCH, no object (with content-length and streamed)', async () => {
    const data = bytes(300 * KiB, 13);
    const req = await planOne(data);
    const longer = Buffer.concat([data, Buffer.from('x')]);
    expectError(await storageResult(await send(req, longer)), 400, 'E_SIZE_MISMATCH');
    await expectNotStored(data);
    expectError(await storageResult(await sendChunked(req, [data, text('extra')])), 400, 'E_SIZE_MISMATCH');
    await expectNotStored(data);
  });

  it('a URL whose path names another key -> 403 E_BAD_SIGNATURE, nothing stored there', async () => {
    const data = bytes(300 * KiB, 14);
    const other = bytes(300 * KiB, 15);
    const req = await planOne(data);
    await planOne(other); // the other key is legitimately plannable too
    const otherPath = `/storage/${blobKeyOf(TEAM, sha256(other))}`;
    const res = await storageResult(await send(req, other, { url: withPath(req.url, otherPath) }));
    expectError(res, 403, 'E_BAD_SIGNATURE');
    await expectNotStored(other);
    // Same hash, another team's namespace.
    const foreign = `/storage/${blobKeyOf('other-team', sha256(data))}`;
    expectError(
      await storageResult(await send(req, data, { url: withPath(req.url, foreign) })),
      403,
      'E_BAD_SIGNATURE',
    );
    expect(existsSync(h.fileOfKey(blobKeyOf('other-team', sha256(data))))).toBe(false);
    await expectNotStored(data);
  });

  it('changed size / sha256 / exp / m query parameters -> 403 E_BAD_SIGNATURE', async () => {
    const data = bytes(300 * KiB, 16);
    const other = bytes(300 * KiB + 10, 17);
    const req = await planOne(data);
    const variants: [string, string, Uint8Array][] = [
      ['size', withQuery(req.url, (q) => q.set('size', String(data.length + 1))), Buffer.concat([data, text('!')])],
      ['sha256', withQuery(req.url, (q) => q.set('sha256', sha256(tamper(data)))), tamper(data)],
      [
        'size+sha256',
        withQuery(req.url, (q) => {
          q.set('size', String(other.length));
          q.set('sha256', sha256(other));
        }),
        other,
      ],
      ['exp', withQuery(req.url, (q) => q.set('exp', String(Number(q.get('exp')) + 3600))), data],
      ['m', withQuery(req.url, (q) => q.set('m', 'GET')), data],
      ['no sig', withQuery(req.url, (q) => q.delete('sig')), data],
      ['bad sig', withQuery(req.url, (q) => q.set('sig', 'A'.repeat(43))), data],
    ];
    for (const [name, url, body] of variants) {
      const res = await storageResult(await send(req, body, { url }));
      expect(res.status, name).toBe(403);
      expectError(res, 403, 'E_BAD_SIGNATURE');
    }
    await expectNotStored(data);
    await expectNotStored(other);
    await expectNotStored(tamper(data));
  });

  it('an expired URL (signed with the server key, expiry in the past) -> 403 E_URL_EXPIRED', async () => {
    const data = bytes(1000, 18);
    const path = `/storage/${blobKeyOf(TEAM, sha256(data))}`;
    const expires = Math.floor(Date.now() / 1000) - 5;
    const qs = signedQuery(h.server.backend.blobs.secret, {
      method: 'PUT',
      path,
      expires,
      bound: { size: String(data.length), sha256: sha256(data), ct: 'application/octet-stream' },
    });
    const res = await fetch(`${h.url}${path}?${qs}`, { method: 'PUT', body: Buffer.from(data) });
    expectError(await storageResult(res), 403, 'E_URL_EXPIRED');
    await expectNotStored(data);
  });

  it('the same URL signed with another key -> 403 E_BAD_SIGNATURE', async () => {
    const data = bytes(1000, 19);
    const path = `/storage/${blobKeyOf(TEAM, sha256(data))}`;
    const qs = signedQuery(Buffer.alloc(32, 7), {
      method: 'PUT',
      path,
      expires: Math.floor(Date.now() / 1000) + 600,
      bound: { size: String(data.length), sha256: sha256(data), ct: 'application/octet-stream' },
    });
    const res = await fetch(`${h.url}${path}?${qs}`, { method: 'PUT', body: Buffer.from(data) });
    expectError(await storageResult(res), 403, 'E_BAD_SIGNATURE');
    await expectNotStored(data);
  });
});

describe('method binding', () => {
  let data: Uint8Array;
  let getReq: SignedRequest;
  let putReq: SignedRequest;
  beforeAll(async () => {
    data = text('method binding');
    const v = await publish(h, key, 'methods', [{ path: 'f', data }]);
    const dl = await h.call<DownloadResponse>('POST', route.downloads(key, 'methods', v.version.version), {
      body: { sha256s: [sha256(data)] },
    });
    getReq = (dl.body.blobs[0] as DownloadResponse['blobs'][0]).request;
    const fresh = bytes(300 * KiB, 20);
    putReq = await planOne(fresh);
  });

  it('a GET URL used with PUT -> 403 E_BAD_SIGNATURE and the object is unchanged', async () => {
    const before = await (await send(getReq)).arrayBuffer();
    const res = await storageResult(await send(getReq, tamper(data), { method: 'PUT' }));
    expectError(res, 403, 'E_BAD_SIGNATURE');
    const after = await (await send(getReq)).arrayBuffer();
    expect(Buffer.from(after).equals(Buffer.from(before))).toBe(true);
    expect(Buffer.from(after).equals(Buffer.from(data))).toBe(true);
  });

  it('a PUT URL used with GET -> 403 E_BAD_SIGNATURE (no bytes)', async () => {
    const res = await storageResult(await send(putReq, undefined, { method: 'GET', headers: {} }));
    expectError(res, 403, 'E_BAD_SIGNATURE');
  });

  it('a download URL whose path names another stored blob -> 403 E_BAD_SIGNATURE', async () => {
    const secret = text('secret blob of another experiment');
    const k2 = uniqueKey('other');
    await createExperiment(h, k2);
    await publish(h, k2, 'private', [{ path: 's', data: secret }]);
    const url = withPath(getReq.url, `/storage/${blobKeyOf(TEAM, sha256(secret))}`);
    const res = await storageResult(await send(getReq, undefined, { url }));
    expectError(res, 403, 'E_BAD_SIGNATURE');
    expect(res.text).not.toContain('secret blob');
  });

  it('other methods on storage are refused', async () => {
    const res = await storageResult(await send(getReq, undefined, { method: 'DELETE' }));
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect((await send(getReq)).status).toBe(200);
  });

  it('an expired download URL -> 403 E_URL_EXPIRED', async () => {
    const path = new URL(getReq.url).pathname;
    const qs = signedQuery(h.server.backend.blobs.secret, {
      method: 'GET',
      path,
      expires: Math.floor(Date.now() / 1000) - 1,
      bound: {},
    });
    expectError(await storageResult(await fetch(`${h.url}${path}?${qs}`)), 403, 'E_URL_EXPIRED');
  });
});

describe('packs', () => {
  async function planPack(datas: Uint8Array[]): Promise<PlanUploadResponse['packs'][0]> {
    const res = await h.call<PlanUploadResponse>('POST', route.uploads(key, 'packed'), {
      body: { blobs: datas.map((d) => ({ sha256: sha256(d), size: d.length })) },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.packs).toHaveLength(1);
    expect(res.body.uploads).toEqual([]);
    return res.body.packs[0] as PlanUploadResponse['packs'][0];
  }
  const bodyOf = (pack: PlanUploadResponse['packs'][0], byHash: Map<string, Uint8Array>) =>
    Buffer.concat(pack.members.map((m) => byHash.get(m.sha256) as Uint8Array));

  it('a tampered member -> 400 E_HASH_MISMATCH; it and the members after it are not stored; a retry works', async () => {
    const datas = [bytes(2000, 31), bytes(3000, 32), bytes(4000, 33)];
    const byHash = new Map(datas.map((d) => [sha256(d), d]));
    const pack = await planPack(datas);
    const order = pack.members.map((m) => byHash.get(m.sha256) as Uint8Array);
    const [first, middle, last] = order as [Uint8Array, Uint8Array, Uint8Array];
    const bad = Buffer.concat([first, tamper(middle, 10), last]);
    expectError(await storageResult(await send(pack.request, bad)), 400, 'E_HASH_MISMATCH');
    await expectNotStored(middle);
    await expectNotStored(last);
    const ok = await send(pack.request, bodyOf(pack, byHash));
    expect(ok.status, await ok.clone().text()).toBe(201);
    for (const d of datas) await expectStored(d);
  });

  it('a shorter or longer pack body -> 400 E_SIZE_MISMATCH', async () => {
    const datas = [bytes(1000, 41), bytes(1500, 42)];
    const byHash = new Map(datas.map((d) => [sha256(d), d]));
    const pack = await planPack(datas);
    const full = bodyOf(pack, byHash);
    expectError(
      await storageResult(await send(pack.request, full.subarray(0, full.length - 1))),
      400,
      'E_SIZE_MISMATCH',
    );
    const last = pack.members[pack.members.length - 1] as { sha256: string };
    await expectNotStored(byHash.get(last.sha256) as Uint8Array);
    expectError(
      await storageResult(await send(pack.request, Buffer.concat([full, text('x')]))),
      400,
      'E_SIZE_MISMATCH',
    );
  });

  it('a pack URL with a changed size, another pack id, or used with GET -> 403 E_BAD_SIGNATURE', async () => {
    const datas = [bytes(1000, 51), bytes(1000, 52)];
    const byHash = new Map(datas.map((d) => [sha256(d), d]));
    const pack = await planPack(datas);
    const body = bodyOf(pack, byHash);
    const sized = withQuery(pack.request.url, (q) => q.set('size', String(body.length + 5)));
    expectError(
      await storageResult(await send(pack.request, Buffer.concat([body, Buffer.alloc(5)]), { url: sized })),
      403,
      'E_BAD_SIGNATURE',
    );
    const other = withPath(pack.request.url, `/storage-pack/${'0'.repeat(64)}`);
    expectError(await storageResult(await send(pack.request, body, { url: other })), 403, 'E_BAD_SIGNATURE');
    expectError(
      await storageResult(await send(pack.request, undefined, { method: 'GET', headers: {} })),
      403,
      'E_BAD_SIGNATURE',
    );
    for (const d of datas) await expectNotStored(d);
  });
});

describe('download signing', () => {
  it('only for blobs of that version: another version, experiment, the manifest or an unknown hash -> 403 E_FORBIDDEN', async () => {
    const k = uniqueKey('dl');
    await createExperiment(h, k);
    const a1 = text('version one');
    const a2 = text('version two');
    const v1 = await publish(h, k, 'out', [{ path: 'f', data: a1 }]);
    const v2 = await publish(h, k, 'out', [{ path: 'f', data: a2 }]);
    expect([v1.version.version, v2.version.version]).toEqual([1, 2]);
    const elsewhere = text('known from another experiment');
    const k2 = uniqueKey('dl-other');
    await createExperiment(h, k2);
    await publish(h, k2, 'out', [{ path: 'g', data: elsewhere }]);

    const forbidden: [string, string[]][] = [
      ['hash of version 2 asked on version 1', [sha256(a2)]],
      ['hash of another experiment', [sha256(elsewhere)]],
      ['the manifest blob itself', [v1.version.manifestSha256]],
      ['a hash nobody has', [sha256('nothing')]],
      ['a valid hash mixed with a foreign one', [sha256(a1), sha256(elsewhere)]],
    ];
    for (const [name, sha256s] of forbidden) {
      const res = await h.call('POST', route.downloads(k, 'out', 1), { body: { sha256s } });
      expect(res.status, name).toBe(403);
      expectError(res, 403, 'E_FORBIDDEN');
      expect(res.text).not.toContain('/storage/');
    }
    const ok = await h.call<DownloadResponse>('POST', route.downloads(k, 'out', 1), {
      body: { sha256s: [sha256(a1)] },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.blobs.map((b) => b.sha256)).toEqual([sha256(a1)]);
  });
});

describe('URL lifetime (urlTtlSeconds: 1)', () => {
  it('upload and download URLs expire -> 403 E_URL_EXPIRED', { timeout: 20_000 }, async () => {
    const short = await startHarness({ urlTtlSeconds: 1 });
    try {
      const k = uniqueKey('ttl');
      await createExperiment(short, k);
      const stored = text('stored before expiry');
      const up1 = await short.call<PlanUploadResponse>('POST', route.uploads(k, 'out'), {
        body: { blobs: [{ sha256: sha256(stored), size: stored.length }] },
      });
      expect((await send(up1.body.packs[0]?.request as SignedRequest, stored)).status).toBe(201);
      const v = await short.call('POST', route.versions(k, 'out'), {
        body: {
          mutable: true,
          manifest: { files: [{ path: 'f', size: stored.length, sha256: sha256(stored), mode: 420, mtime: 0 }] },
        },
      });
      expect(v.status, v.text).toBe(201);
      const dl = await short.call<DownloadResponse>('POST', route.downloads(k, 'out', 1), {
        body: { sha256s: [sha256(stored)] },
      });
      const big = bytes(300 * KiB, 61);
      const up2 = await short.call<PlanUploadResponse>('POST', route.uploads(k, 'out'), {
        body: { blobs: [{ sha256: sha256(big), size: big.length }] },
      });
      const expiresAt = Date.parse(up2.body.uploads[0]?.request.expiresAt ?? '');
      expect(expiresAt - Date.now()).toBeLessThanOrEqual(1000);
      await sleep(2100);
      const put = await storageResult(await send(up2.body.uploads[0]?.request as SignedRequest, big));
      expectError(put, 403, 'E_URL_EXPIRED');
      expect(existsSync(short.fileOfKey(blobKeyOf(TEAM, sha256(big))))).toBe(false);
      const get = await storageResult(await send(dl.body.blobs[0]?.request as SignedRequest));
      expectError(get, 403, 'E_URL_EXPIRED');
    } finally {
      await short.close();
    }
  });
});

describe('packs planned twice', () => {
  // BUG: adapters/local/disk-blob-store.ts signPackUpload() (line 130) names the pack description by the digest
  // of its member list, and hosts/local-server/storage-routes.ts receivePack() (line 97) deletes it after the first
  // successful upload. Two plans of the same missing blobs (two runs capturing the same files at once) get the same
  // pack URL; after the first upload the second, still valid and unexpired, answers 404 E_NOT_FOUND "pack description
  // not found" and that client's capture fails. Should: every signed pack URL stays usable until it expires (e.g.
  // a per-plan nonce in the description name, or no delete; the upload is idempotent for content-addressed keys).
  it('both signed pack URLs stay usable until they expire', async () => {
    const datas = [bytes(1000, 71), bytes(1200, 72)];
    const byHash = new Map(datas.map((d) => [sha256(d), d]));
    const plan = () =>
      h.call<PlanUploadResponse>('POST', route.uploads(key, 'twice'), {
        body: { blobs: datas.map((d) => ({ sha256: sha256(d), size: d.length })) },
      });
    const [a, b] = await Promise.all([plan(), plan()]);
    const packA = a.body.packs[0] as PlanUploadResponse['packs'][0];
    const packB = b.body.packs[0] as PlanUploadResponse['packs'][0];
    const body = (p: PlanUploadResponse['packs'][0]) =>
      Buffer.concat(p.members.map((m) => byHash.get(m.sha256) as Uint8Array));
    const first = await send(packA.request, body(packA));
    expect(first.status).toBe(201);
    const second = await send(packB.request, body(packB));
    expect(second.status, await second.clone().text()).toBe(201);
  });
});
