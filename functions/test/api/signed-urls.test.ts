/**
 * Signed storage URLs of the local host: bound to one key, one method, one size and one hash, short lived, and a
 * rejected upload never leaves an object (or a blobs row, or a temp file) behind.
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { signedQuery } from '../../src/adapters/local/hmac-signer.ts';
import type { SignedRequest } from '../../src/contract/transfer.ts';
import type { DownloadResponse, PlannedPack, PlanUploadResponse } from '../../src/contract/wire.ts';
import {
  blobKeyOf,
  bytes,
  createExperiment,
  downloadRequest,
  expectError,
  type Harness,
  packKeyOf,
  publish,
  registerPack,
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

/** Asserts the blob is stored and recorded: an object of its own, or (small blobs) its bytes where its pack record says. */
async function expectStored(data: Uint8Array): Promise<void> {
  const snap = await h.snapshot();
  const row = snap.db.blobs.find((b) => (b as { sha256: string }).sha256 === sha256(data)) as
    | { pack_id: string | null; pack_offset: number | null }
    | undefined;
  expect(row).toBeDefined();
  const file = h.fileOfKey(row?.pack_id ? packKeyOf(TEAM, row.pack_id) : blobKeyOf(TEAM, sha256(data)));
  const stored = await readFile(file);
  const offset = row?.pack_offset ?? 0;
  expect(stored.subarray(offset, offset + data.length).equals(Buffer.from(data))).toBe(true);
}

/** Asserts a planned pack left no pack object behind. */
function expectNoPack(pack: PlannedPack): void {
  expect(existsSync(h.fileOfKey(packKeyOf(TEAM, pack.id)))).toBe(false);
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
    // Small: its pack's GET with the Range of its bytes.
    getReq = downloadRequest(dl.body, sha256(data));
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
    const still = await send(getReq);
    expect(still.status).toBe(206);
    expect(Buffer.from(await still.arrayBuffer()).equals(Buffer.from(data))).toBe(true);
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
    // Nothing at all: no pack object (not even of the good first member), no record, no temp file.
    expectNoPack(pack);
    for (const d of order) await expectNotStored(d);
    expectError(await registerPack(h, key, 'packed', pack), 409, 'E_BLOB_MISSING');
    for (const d of order) await expectNotStored(d);
    const ok = await send(pack.request, bodyOf(pack, byHash));
    expect(ok.status, await ok.clone().text()).toBe(201);
    expect((await registerPack(h, key, 'packed', pack)).status).toBe(200);
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
    for (const d of datas) await expectNotStored(d);
    expectNoPack(pack);
    expectError(
      await storageResult(await send(pack.request, Buffer.concat([full, text('x')]))),
      400,
      'E_SIZE_MISMATCH',
    );
    for (const d of datas) await expectNotStored(d);
    expectNoPack(pack);
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
    expectNoPack(pack);
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
    // Small: no GET of its own, a member of its pack (only the members asked for are listed).
    expect(ok.body.blobs).toEqual([]);
    expect(ok.body.packs?.flatMap((p) => p.members.map((m) => m.sha256))).toEqual([sha256(a1)]);
    const got = await send(downloadRequest(ok.body, sha256(a1)));
    expect(got.status).toBe(206);
    expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(a1))).toBe(true);
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
      const pack1 = up1.body.packs[0] as PlannedPack;
      expect((await send(pack1.request, stored)).status).toBe(201);
      expect((await registerPack(short, k, 'out', pack1)).status).toBe(200);
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
      const get = await storageResult(await send(downloadRequest(dl.body, sha256(stored))));
      expectError(get, 403, 'E_URL_EXPIRED');
      // A pack uploaded in time but registered after its window (the URL's lifetime + 600 s) is refused: plan again.
      const late = text('registered too late');
      const up3 = await short.call<PlanUploadResponse>('POST', route.uploads(k, 'out'), {
        body: { blobs: [{ sha256: sha256(late), size: late.length }] },
      });
      const pack3 = up3.body.packs[0] as PlannedPack;
      expect((await send(pack3.request, late)).status).toBe(201);
      const deps = short.server.backend.deps;
      const now = deps.now;
      deps.now = () => new Date(Date.now() + (deps.urlTtlSeconds + 600 + 5) * 1000);
      try {
        expectError(await registerPack(short, k, 'out', pack3), 409, 'E_BLOB_MISSING');
      } finally {
        deps.now = now;
      }
      expect((await short.blobIndex.findBlobs(TEAM, [sha256(late)])).size).toBe(0);
    } finally {
      await short.close();
    }
  });
});

describe('packs planned twice', () => {
  // Regression (the pack description used to be named by its member list and deleted after the first upload, so the
  // second of two plans of the same blobs answered 404): every plan makes a pack of its own (a fresh nonce, so a
  // fresh id and key), both URLs work until they expire, and both packs register; the members keep the first place.
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
    expect(packA.id).not.toBe(packB.id);
    expect((await registerPack(h, key, 'twice', packA)).status).toBe(200);
    expect((await registerPack(h, key, 'twice', packB)).status).toBe(200);
    const found = await h.blobIndex.findBlobs(TEAM, [...byHash.keys()]);
    for (const sha of byHash.keys()) expect(found.get(sha)?.pack?.id).toBe(packA.id);
  });
});
