import { createHash, randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isStudioError, type PlanUploadResponse, type SignedRequest } from '@studio-lite/functions/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { uploadBlobs } from '../../src/transfer/upload.ts';
import { type Handler, sendJson, startRecordServer } from './helpers/record-server.ts';
import { useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const FAST = { minDelayMs: 1, maxDelayMs: 5 };

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.map((c) => c()));
  closers = [];
});

async function server(handler: Handler) {
  const s = await startRecordServer(handler);
  closers.push(s.close);
  return s;
}

function blobFile(dir: string, name: string, size: number) {
  const data = randomBytes(size);
  const abs = path.join(dir, name);
  writeFileSync(abs, data);
  return { data, abs, sha256: sha(data), size };
}

const req = (url: string, extra: Record<string, string> = {}): SignedRequest => ({
  method: 'PUT',
  url,
  headers: { 'content-type': 'application/octet-stream', 'x-goog-hash': 'sig', ...extra },
  expiresAt: new Date(Date.now() + 60_000).toISOString(),
});

describe('uploadBlobs', () => {
  it('PUTs each file with the signed headers and content-length, and packs as one concatenated body', async () => {
    const dir = tmp();
    const big = blobFile(dir, 'big', 3 * 1024 * 1024 + 17);
    const p1 = blobFile(dir, 'p1', 100);
    const p2 = blobFile(dir, 'p2', 0);
    const p3 = blobFile(dir, 'p3', 5000);
    const s = await server((_r, res) => sendJson(res, 200, {}));
    const plan: PlanUploadResponse = {
      uploads: [{ sha256: big.sha256, size: big.size, request: req(`${s.base}/blob/${big.sha256}`) }],
      packs: [
        {
          id: 'a'.repeat(64),
          nonce: 'b'.repeat(32),
          members: [p1, p2, p3].map((p) => ({ sha256: p.sha256, size: p.size })),
          request: req(`${s.base}/pack`),
        },
      ],
      present: 0,
    };
    const sources = new Map([big, p1, p2, p3].map((b) => [b.sha256, b.abs]));
    const progress: number[] = [];
    const registered: { id: string; afterPut: boolean }[] = [];
    const r = await uploadBlobs(plan, sources, {
      onProgress: (n) => progress.push(n),
      retry: FAST,
      registerPack: async (p) => {
        registered.push({ id: p.id, afterPut: s.requests.some((q) => q.url === '/pack') });
      },
    });

    expect(r).toEqual({ uploadedBlobs: 4, uploadedBytes: big.size + 5100 });
    // The pack is registered once, after its body was stored.
    expect(registered).toEqual([{ id: 'a'.repeat(64), afterPut: true }]);
    const one = s.requests.find((q) => q.url.startsWith('/blob/'));
    expect(one?.method).toBe('PUT');
    expect(one?.headers['content-length']).toBe(String(big.size));
    expect(one?.headers['content-type']).toBe('application/octet-stream');
    expect(one?.headers['x-goog-hash']).toBe('sig');
    expect(one?.body.equals(big.data)).toBe(true);
    const pack = s.requests.find((q) => q.url === '/pack');
    expect(pack?.headers['content-length']).toBe('5100');
    expect(pack?.body.equals(Buffer.concat([p1.data, p2.data, p3.data]))).toBe(true);
    expect(progress.at(-1)).toBe(big.size + 5100);
  });

  it('retries a 500 and succeeds on the next attempt', async () => {
    const b = blobFile(tmp(), 'f', 2048);
    const s = await server((_r, res, nth) =>
      nth === 1 ? sendJson(res, 500, { error: { code: 'E_INTERNAL', message: 'x' } }) : sendJson(res, 200, {}),
    );
    const progress: number[] = [];
    const r = await uploadBlobs(
      { uploads: [{ sha256: b.sha256, size: b.size, request: req(`${s.base}/f`) }], packs: [], present: 0 },
      new Map([[b.sha256, b.abs]]),
      { retry: FAST, onProgress: (n) => progress.push(n) },
    );
    expect(r.uploadedBlobs).toBe(1);
    expect(s.requests).toHaveLength(2);
    expect(s.requests.every((q) => q.body.equals(b.data))).toBe(true);
    // The failed attempt's bytes are taken back, so the total ends at the blob size, not twice it.
    expect(progress.at(-1)).toBe(2048);
  });

  it('retries a dropped connection, and gives up on a persistent 503 with E_UNAVAILABLE', async () => {
    const b = blobFile(tmp(), 'f', 4096);
    const s = await server((r, res, nth) => {
      if (r.url === '/drop' && nth === 1) res.socket?.destroy();
      else if (r.url === '/drop') sendJson(res, 200, {});
      else sendJson(res, 503, { error: { code: 'E_UNAVAILABLE', message: 'busy' } });
    });
    const one = (url: string) => ({
      uploads: [{ sha256: b.sha256, size: b.size, request: req(url) }],
      packs: [],
      present: 0,
    });
    const sources = new Map([[b.sha256, b.abs]]);
    const progress: number[] = [];
    const r = await uploadBlobs(one(`${s.base}/drop`), sources, { retry: FAST, onProgress: (n) => progress.push(n) });
    expect(r.uploadedBlobs).toBe(1);
    expect(progress.at(-1)).toBe(4096);
    const err = await uploadBlobs(one(`${s.base}/busy`), sources, { retry: { ...FAST, retries: 2 } }).catch(
      (e: unknown) => e,
    );
    expect(isStudioError(err, 'E_UNAVAILABLE')).toBe(true);
    expect(s.requests.filter((q) => q.url === '/busy')).toHaveLength(3);
  });

  it('does not retry a 400 and surfaces the storage error code', async () => {
    const b = blobFile(tmp(), 'f', 10);
    const s = await server((_r, res) =>
      sendJson(res, 400, { error: { code: 'E_BAD_SIGNATURE', message: 'signature does not match' } }),
    );
    const err = await uploadBlobs(
      { uploads: [{ sha256: b.sha256, size: b.size, request: req(`${s.base}/f`) }], packs: [], present: 0 },
      new Map([[b.sha256, b.abs]]),
      { retry: FAST },
    ).catch((e: unknown) => e);
    expect(isStudioError(err, 'E_BAD_SIGNATURE')).toBe(true);
    expect((err as { details?: { status?: number } }).details?.status).toBe(400);
    expect(s.requests).toHaveLength(1);
  });

  it('maps a GCS-style XML error', async () => {
    const b = blobFile(tmp(), 'f', 10);
    const s = await server((_r, res) => {
      res.writeHead(403, { 'content-type': 'application/xml' });
      res.end('<?xml version="1.0"?><Error><Code>SignatureDoesNotMatch</Code><Message>no</Message></Error>');
    });
    const err = await uploadBlobs(
      { uploads: [{ sha256: b.sha256, size: b.size, request: req(`${s.base}/f`) }], packs: [], present: 0 },
      new Map([[b.sha256, b.abs]]),
      { retry: FAST },
    ).catch((e: unknown) => e);
    expect(isStudioError(err, 'E_BAD_SIGNATURE')).toBe(true);
  });

  it('fails a file that changed since hashing with E_HASH_MISMATCH but still uploads the others', async () => {
    const dir = tmp();
    const ok = blobFile(dir, 'ok', 100);
    const moved = blobFile(dir, 'moved', 100);
    writeFileSync(moved.abs, 'now shorter');
    const s = await server((_r, res) => sendJson(res, 200, {}));
    const err = await uploadBlobs(
      {
        uploads: [ok, moved].map((b) => ({ sha256: b.sha256, size: b.size, request: req(`${s.base}/${b.sha256}`) })),
        packs: [],
        present: 0,
      },
      new Map([ok, moved].map((b) => [b.sha256, b.abs])),
      { retry: FAST },
    ).catch((e: unknown) => e);
    expect(isStudioError(err, 'E_HASH_MISMATCH')).toBe(true);
    expect((err as { details?: { sha256s?: string[] } }).details?.sha256s).toEqual([moved.sha256]);
    expect(s.requests.map((q) => q.url)).toEqual([`/${ok.sha256}`]);
  });

  it('keeps at most `concurrency` requests in flight', async () => {
    const dir = tmp();
    const blobs = Array.from({ length: 12 }, (_, i) => blobFile(dir, `f${i}`, 1000 + i));
    const s = await server(async (_r, res) => {
      await new Promise((r) => setTimeout(r, 20));
      sendJson(res, 200, {});
    });
    const r = await uploadBlobs(
      {
        uploads: blobs.map((b) => ({ sha256: b.sha256, size: b.size, request: req(`${s.base}/${b.sha256}`) })),
        packs: [],
        present: 0,
      },
      new Map(blobs.map((b) => [b.sha256, b.abs])),
      { concurrency: 3, retry: FAST },
    );
    expect(r.uploadedBlobs).toBe(12);
    expect(s.maxInFlight).toBeLessThanOrEqual(3);
    expect(s.maxInFlight).toBeGreaterThan(1);
  });
});
