import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  type DownloadBody,
  type DownloadResponse,
  isStudioError,
  type Manifest,
} from '@studio-lite/functions/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { BlobCache } from '../../src/cache/blob-cache.ts';
import { downloadToCache } from '../../src/transfer/download.ts';
import { type Handler, sendJson, startRecordServer } from './helpers/record-server.ts';
import { useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const FAST = { minDelayMs: 1, maxDelayMs: 5 };
const REF = { experiment: 'exp1', tag: 'data', version: 3 };

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.map((c) => c()));
  closers = [];
});

/** Blobs served at /blob/<sha>; `handler` may answer first (return true when it did). */
async function storage(
  blobs: Map<string, Buffer>,
  before?: (url: string, nth: number, res: Parameters<Handler>[1]) => boolean,
) {
  const s = await startRecordServer((r, res, nth) => {
    if (before?.(r.url, nth, res)) return;
    const data = blobs.get(r.url.split('/')[2]?.split('?')[0] ?? '');
    if (data === undefined) return sendJson(res, 404, { error: { code: 'E_NOT_FOUND', message: 'no' } });
    res.writeHead(200, { 'content-length': String(data.length) });
    res.end(data);
  });
  closers.push(s.close);
  return s;
}

function fakeClient(base: string) {
  const calls: { ref: unknown; body: DownloadBody }[] = [];
  let signing = 0;
  return {
    calls,
    async signDownloads(key: string, tag: string, version: number, body: DownloadBody): Promise<DownloadResponse> {
      calls.push({ ref: { experiment: key, tag, version }, body });
      signing++;
      return {
        blobs: body.sha256s.map((s) => ({
          sha256: s,
          size: 0,
          request: {
            method: 'GET',
            url: `${base}/blob/${s}?sig=${signing}`,
            headers: { 'x-signed': 'yes' },
            expiresAt: '',
          },
        })),
      };
    },
  };
}

function makeBlobs(n: number, size = 3000) {
  const blobs = new Map<string, Buffer>();
  const manifest: Manifest = { files: [], links: [] };
  for (let i = 0; i < n; i++) {
    const data = randomBytes(size + i);
    blobs.set(sha(data), data);
    manifest.files.push({ path: `f${i}`, size: data.length, sha256: sha(data), mode: 0o644, mtime: 0 });
  }
  return { blobs, manifest };
}

describe('downloadToCache', () => {
  it('signs and fetches only blobs missing from the cache, in batches, and verifies them into it', async () => {
    const { blobs, manifest } = makeBlobs(5);
    const cache = new BlobCache(tmp());
    const [first] = blobs;
    await cache.ingest(
      first?.[0] as string,
      first?.[1].length as number,
      (async function* () {
        yield first?.[1] as Buffer;
      })(),
    );
    manifest.files.push({ ...(manifest.files[1] as Manifest['files'][number]), path: 'dup' });
    const s = await storage(blobs);
    const client = fakeClient(s.base);
    const progress: number[] = [];
    const r = await downloadToCache(client, REF, manifest, cache, {
      batchSize: 2,
      retry: FAST,
      onProgress: (n) => progress.push(n),
    });

    expect(r.cachedBlobs).toBe(1);
    expect(r.downloadedBlobs).toBe(4);
    expect(client.calls.map((c) => c.body.sha256s.length)).toEqual([2, 2]);
    expect(client.calls[0]?.ref).toEqual(REF);
    expect(client.calls.flatMap((c) => c.body.sha256s)).not.toContain(first?.[0]);
    expect(s.requests.every((q) => q.method === 'GET' && q.headers['x-signed'] === 'yes')).toBe(true);
    for (const [h, data] of blobs) expect(readFileSync(cache.path(h)).equals(data)).toBe(true);
    expect(progress.at(-1)).toBe(r.downloadedBytes);
  });

  it('retries a 500 and a connection dropped mid-body', async () => {
    const { blobs, manifest } = makeBlobs(2, 200_000);
    const [a, b] = [...blobs.keys()];
    const s = await storage(blobs, (url, nth, res) => {
      if (url.includes(a as string) && nth === 1) {
        sendJson(res, 500, { error: { code: 'E_INTERNAL', message: 'x' } });
        return true;
      }
      if (url.includes(b as string) && nth === 1) {
        res.writeHead(200, { 'content-length': '200001' });
        res.write((blobs.get(b as string) as Buffer).subarray(0, 1000), () => res.socket?.destroy());
        return true;
      }
      return false;
    });
    const cache = new BlobCache(tmp());
    const r = await downloadToCache(fakeClient(s.base), REF, manifest, cache, { retry: FAST });
    expect(r.downloadedBlobs).toBe(2);
    expect(s.requests).toHaveLength(4);
    expect(await cache.has(a as string, 200_000)).toBe(true);
  });

  it('rejects wrong bytes with E_HASH_MISMATCH and caches nothing for them', async () => {
    const { blobs, manifest } = makeBlobs(1);
    const [h, data] = [...blobs][0] as [string, Buffer];
    const s = await storage(new Map([[h, Buffer.from(data.map((x) => x ^ 0xff))]]));
    const cache = new BlobCache(tmp());
    const err = await downloadToCache(fakeClient(s.base), REF, manifest, cache, { retry: FAST }).catch(
      (e: unknown) => e,
    );
    expect(isStudioError(err, 'E_HASH_MISMATCH')).toBe(true);
    expect(await cache.has(h, data.length)).toBe(false);
  });

  it('re-signs a blob whose URL expired, once', async () => {
    const { blobs, manifest } = makeBlobs(1);
    const s = await storage(blobs, (url, _nth, res) => {
      if (!url.endsWith('sig=1')) return false;
      sendJson(res, 400, { error: { code: 'E_URL_EXPIRED', message: 'expired' } });
      return true;
    });
    const client = fakeClient(s.base);
    const r = await downloadToCache(client, REF, manifest, new BlobCache(tmp()), { retry: FAST });
    expect(r.downloadedBlobs).toBe(1);
    expect(client.calls).toHaveLength(2);
  });

  it('does not retry a 403 and surfaces its code', async () => {
    const { blobs, manifest } = makeBlobs(1);
    const s = await storage(blobs, (_url, _nth, res) => {
      sendJson(res, 403, { error: { code: 'E_FORBIDDEN', message: 'no' } });
      return true;
    });
    const err = await downloadToCache(fakeClient(s.base), REF, manifest, new BlobCache(tmp()), { retry: FAST }).catch(
      (e: unknown) => e,
    );
    expect(isStudioError(err, 'E_FORBIDDEN')).toBe(true);
    expect(s.requests).toHaveLength(1);
  });
});

describe('downloadToCache with many blobs', () => {
  it('leaves no abort listener behind per blob (2,000 blobs: no MaxListenersExceededWarning, nothing left on the caller signal)', async () => {
    const { blobs, manifest } = makeBlobs(2000, 16);
    const cache = new BlobCache(tmp());
    const s = await storage(blobs);
    const warnings: string[] = [];
    const onWarning = (w: Error) => warnings.push(`${w.name}: ${w.message}`);
    process.on('warning', onWarning);
    const caller = new AbortController();
    try {
      const r = await downloadToCache(fakeClient(s.base), REF, manifest, cache, { signal: caller.signal });
      expect(r.downloadedBlobs).toBe(2000);
    } finally {
      process.off('warning', onWarning);
    }
    expect(warnings.filter((w) => w.startsWith('MaxListenersExceededWarning'))).toEqual([]);
    const { getEventListeners } = await import('node:events');
    expect(getEventListeners(caller.signal, 'abort').length).toBeLessThanOrEqual(1);
  }, 60_000);
});

/** One pack at /pack (all blobs concatenated), served with or without honouring `Range`. */
async function packStorage(parts: Buffer[], opts: { ignoreRange?: boolean; failFirst?: number } = {}) {
  const body = Buffer.concat(parts);
  const ranges: (string | undefined)[] = [];
  let seen = 0;
  const s = await startRecordServer((r, res) => {
    const range = r.headers.range as string | undefined;
    ranges.push(range);
    seen += 1;
    if (opts.failFirst && seen <= opts.failFirst) {
      sendJson(res, 404, { error: { code: 'E_NOT_FOUND', message: 'gone' } });
      return;
    }
    const m = /^bytes=(\d+)-(\d+)$/.exec(range ?? '');
    if (!m || opts.ignoreRange) {
      res.writeHead(200, { 'content-length': String(body.length) });
      res.end(body);
      return;
    }
    const slice = body.subarray(Number(m[1]), Number(m[2]) + 1);
    res.writeHead(206, { 'content-length': String(slice.length) });
    res.end(slice);
  });
  closers.push(s.close);
  return { ...s, ranges };
}

function packClient(base: string, parts: Buffer[], gap = 0) {
  const calls: DownloadBody[] = [];
  // Members laid out with `gap` foreign bytes between them would be the case of a pack holding other blobs.
  const offsets = new Map<string, number>();
  let off = 0;
  for (const p of parts) {
    offsets.set(sha(p), off);
    off += p.length + gap;
  }
  return {
    calls,
    async signDownloads(_k: string, _t: string, _v: number, body: DownloadBody): Promise<DownloadResponse> {
      calls.push(body);
      return {
        blobs: [],
        packs: [
          {
            id: 'p'.repeat(64),
            // As the API signs it: one range covering the members asked for (they are back to back here).
            request: {
              method: 'GET',
              url: `${base}/pack?sig=${calls.length}`,
              headers: {
                range: `bytes=${Math.min(...body.sha256s.map((x) => offsets.get(x) as number))}-${Math.max(...body.sha256s.map((x) => (offsets.get(x) as number) + (parts.find((p) => sha(p) === x) as Buffer).length)) - 1}`,
              },
              expiresAt: '',
            },
            members: body.sha256s.map((s) => ({
              sha256: s,
              size: (parts.find((p) => sha(p) === s) as Buffer).length,
              offset: offsets.get(s) as number,
            })),
          },
        ],
      };
    },
  };
}

describe('downloadToCache from packs', () => {
  const parts = Array.from({ length: 40 }, (_, i) => randomBytes(1000 + i));
  const manifest: Manifest = {
    files: parts.map((p, i) => ({ path: `f${i}`, size: p.length, sha256: sha(p), mode: 0o644, mtime: 0 })),
    links: [],
  };

  it('fetches neighbouring members with one ranged GET and verifies each into the cache', async () => {
    const s = await packStorage(parts);
    const cache = new BlobCache(tmp());
    const r = await downloadToCache(packClient(s.base, parts), REF, manifest, cache, { retry: FAST });
    expect(r.downloadedBlobs).toBe(40);
    expect(s.ranges).toEqual([`bytes=0-${parts.reduce((n, p) => n + p.length, 0) - 1}`]);
    for (const p of parts) expect(sha(readFileSync(cache.path(sha(p))))).toBe(sha(p));
  });

  it('a store that ignores Range sends the whole pack: the range is cut out of it', async () => {
    const s = await packStorage(parts, { ignoreRange: true });
    const cache = new BlobCache(tmp());
    const r = await downloadToCache(packClient(s.base, parts.slice(0, 40)), REF, manifest, cache, { retry: FAST });
    expect(r.downloadedBlobs).toBe(40);
    for (const p of parts) expect(sha(readFileSync(cache.path(sha(p))))).toBe(sha(p));
  });

  it('a pack gone since it was signed (404) is signed again once and fetched', async () => {
    const s = await packStorage(parts, { failFirst: 1 });
    const client = packClient(s.base, parts);
    const r = await downloadToCache(client, REF, manifest, new BlobCache(tmp()), { retry: FAST });
    expect(r.downloadedBlobs).toBe(40);
    expect(client.calls).toHaveLength(2);
  });

  it('bytes that do not match a member: E_HASH_MISMATCH and nothing of that range enters the cache', async () => {
    const bad = parts.map((p, i) => (i === 3 ? Buffer.from(randomBytes(p.length)) : p));
    const s = await packStorage(bad);
    const cache = new BlobCache(tmp());
    const err = await downloadToCache(packClient(s.base, parts), REF, manifest, cache, { retry: FAST }).catch(
      (e: unknown) => e,
    );
    expect(isStudioError(err, 'E_HASH_MISMATCH')).toBe(true);
    for (const p of parts) expect(await cache.has(sha(p), p.length)).toBe(false);
  });
});
