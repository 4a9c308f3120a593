// Resumable uploads of large blobs: uploadBlobs against a strict in-process session endpoint (helpers/resumable-
// server.ts), with real files, real sockets, dropped connections and aborts.
import { createHash, randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isStudioError, type PlanUploadResponse } from '@studio-lite/functions/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { RESUMABLE_CHUNK_BYTES, SESSION_MAX_AGE_MS } from '../../src/transfer/resumable.ts';
import { uploadBlobs } from '../../src/transfer/upload.ts';
import { startResumableServer } from './helpers/resumable-server.ts';
import { useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();
const MiB = 1 << 20;
const KiB = 1024;
const FAST = { minDelayMs: 1, maxDelayMs: 5 };
const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.map((c) => c()));
  closers = [];
});

async function server(opts: Parameters<typeof startResumableServer>[0] = {}) {
  const s = await startResumableServer(opts);
  closers.push(s.close);
  return s;
}

function blobFile(size: number) {
  const dir = tmp();
  const data = randomBytes(size);
  const abs = path.join(dir, 'weights.bin');
  writeFileSync(abs, data);
  return { data, abs, sha256: sha(data), size };
}

type Srv = Awaited<ReturnType<typeof server>>;
type Blob = ReturnType<typeof blobFile>;

/** A plan with one upload offered as resumable; its single-PUT URL must never be used. */
function planFor(s: Srv, b: Blob): PlanUploadResponse {
  return {
    uploads: [
      {
        sha256: b.sha256,
        size: b.size,
        request: { method: 'PUT', url: `${s.base}/never`, headers: {}, expiresAt: new Date().toISOString() },
        resumable: s.startRequest(b.sha256, b.size),
      },
    ],
    packs: [],
    present: 0,
  };
}

/** The one session the server holds. */
const onlySession = (s: Srv) => {
  expect(s.sessions.size).toBe(1);
  return [...s.sessions.values()][0] as NonNullable<ReturnType<Srv['sessions']['get']>>;
};

const ranges = (s: Srv) => s.log.filter((r) => r.url.startsWith('/session/')).map((r) => r.contentRange);

describe('resumable uploads', () => {
  it('uploads a 20 MiB file in 8 MiB chunks: identical bytes, progress ends at the size, no session file left', async () => {
    const s = await server();
    const b = blobFile(20 * MiB);
    const sessionDir = path.join(tmp(), 'uploads');
    const progress: number[] = [];
    let sawSessionFile = false;
    const r = await uploadBlobs(planFor(s, b), new Map([[b.sha256, b.abs]]), {
      sessionDir,
      retry: FAST,
      onProgress: (n) => {
        progress.push(n);
        sawSessionFile ||= existsSync(path.join(sessionDir, `${b.sha256}.json`));
      },
    });
    expect(r).toEqual({ uploadedBlobs: 1, uploadedBytes: b.size });
    expect(s.violations).toEqual([]);
    expect(RESUMABLE_CHUNK_BYTES).toBe(8 * MiB);
    expect(ranges(s)).toEqual([
      `bytes 0-${8 * MiB - 1}/${b.size}`,
      `bytes ${8 * MiB}-${16 * MiB - 1}/${b.size}`,
      `bytes ${16 * MiB}-${b.size - 1}/${b.size}`,
    ]);
    expect(s.stats).toMatchObject({ posts: 1, chunkPuts: 3, statusQueries: 0, bytesReceived: b.size });
    expect(s.log.some((q) => q.url === '/never')).toBe(false);
    expect(onlySession(s).data.equals(b.data)).toBe(true);
    expect(onlySession(s).complete).toBe(true);
    expect(sawSessionFile).toBe(true);
    expect(readdirSync(sessionDir)).toEqual([]);
    expect(progress.at(-1)).toBe(b.size);
    expect(Math.max(...progress)).toBe(b.size);
  });

  it('a connection dropped mid-chunk resumes at the offset the session reports, re-sending no stored byte', async () => {
    // The second chunk breaks after 3 MiB + 100 bytes of its body; the server keeps 3 MiB of it.
    const s = await server({ drop: { nth: 2, afterBytes: 3 * MiB + 100 } });
    const b = blobFile(20 * MiB);
    const progress: number[] = [];
    await uploadBlobs(planFor(s, b), new Map([[b.sha256, b.abs]]), {
      sessionDir: path.join(tmp(), 'uploads'),
      retry: FAST,
      onProgress: (n) => progress.push(n),
    });
    expect(s.violations).toEqual([]);
    const resumedAt = 11 * MiB;
    expect(ranges(s)).toEqual([
      `bytes 0-${8 * MiB - 1}/${b.size}`,
      `bytes ${8 * MiB}-${16 * MiB - 1}/${b.size}`,
      `bytes */${b.size}`,
      `bytes ${resumedAt}-${resumedAt + 8 * MiB - 1}/${b.size}`,
      `bytes ${resumedAt + 8 * MiB}-${b.size - 1}/${b.size}`,
    ]);
    expect(onlySession(s).data.equals(b.data)).toBe(true);
    // Re-sent = bytes that arrived but were not kept (the part of the broken chunk past 3 MiB), nothing else.
    const resent = s.stats.bytesReceived - b.size;
    console.info(`[resumable] dropped chunk: ${s.stats.bytesReceived} bytes received for ${b.size}, re-sent ${resent}`);
    expect(resent).toBe(s.stats.bytesLost);
    expect(resent).toBeGreaterThan(0);
    expect(resent).toBeLessThan(256 * KiB);
    expect(progress.at(-1)).toBe(b.size);
    expect(Math.max(...progress)).toBeLessThanOrEqual(b.size);
  });

  it('a second call (the next process) resumes the session an aborted first call left behind', async () => {
    const s = await server();
    const b = blobFile(20 * MiB);
    const sessionDir = path.join(tmp(), 'uploads');
    const sources = new Map([[b.sha256, b.abs]]);
    const stop = new AbortController();
    const err = await uploadBlobs(planFor(s, b), sources, {
      sessionDir,
      retry: FAST,
      signal: stop.signal,
      onProgress: (n) => {
        if (n >= 12 * MiB) stop.abort(new Error('interrupted'));
      },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('interrupted');
    await s.idle();
    const file = path.join(sessionDir, `${b.sha256}.json`);
    const rec = JSON.parse(readFileSync(file, 'utf8')) as { uri: string; size: number; createdAt: string };
    expect(rec).toMatchObject({ uri: expect.stringMatching(/\/session\//), size: b.size });
    expect(Date.now() - Date.parse(rec.createdAt)).toBeLessThan(60_000);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const stored = onlySession(s).received;
    expect(stored).toBeGreaterThanOrEqual(8 * MiB);
    expect(stored).toBeLessThan(b.size);
    const receivedBefore = s.stats.bytesReceived;

    // A new call with a fresh plan (a new start URL, never used) and the same folder: it asks, then goes on.
    const progress: number[] = [];
    await uploadBlobs(planFor(s, b), sources, { sessionDir, retry: FAST, onProgress: (n) => progress.push(n) });
    expect(s.violations).toEqual([]);
    expect(s.stats.posts).toBe(1);
    const after = ranges(s).slice(ranges(s).indexOf(`bytes */${b.size}`));
    expect(after[0]).toBe(`bytes */${b.size}`);
    expect(after[1]).toMatch(new RegExp(`^bytes ${stored}-`));
    expect(onlySession(s).data.equals(b.data)).toBe(true);
    // The resumed bytes count once, in one step; progress ends at the size.
    expect(progress[0]).toBe(stored);
    expect(progress.at(-1)).toBe(b.size);
    const resent = s.stats.bytesReceived - b.size;
    console.info(
      `[resumable] aborted at ~12 MiB: ${stored} bytes stored, second call sent ${s.stats.bytesReceived - receivedBefore}, re-sent ${resent}`,
    );
    expect(resent).toBe(s.stats.bytesLost);
    expect(resent).toBeLessThan(256 * KiB);
    expect(existsSync(file)).toBe(false);
  });

  it('an expired session (404) starts over; stale, foreign or corrupt session files are not even asked', async () => {
    const s = await server();
    const b = blobFile(3 * MiB + 5);
    const sessionDir = tmp();
    const file = path.join(sessionDir, `${b.sha256}.json`);
    const target = `${s.base}/start/${b.sha256}`;
    const sources = new Map([[b.sha256, b.abs]]);
    const write = (rec: object) => writeFileSync(file, JSON.stringify(rec), { mode: 0o600 });

    // Expired on the server: the status query answers 404, a new session uploads everything.
    write({ uri: `${s.base}/session/gone`, size: b.size, createdAt: new Date().toISOString(), target });
    await uploadBlobs(planFor(s, b), sources, { sessionDir, retry: FAST });
    expect(s.log.filter((q) => q.url === '/session/gone').map((q) => q.contentRange)).toEqual([`bytes */${b.size}`]);
    expect(s.stats).toMatchObject({ posts: 1, bytesReceived: b.size });
    expect(onlySession(s).data.equals(b.data)).toBe(true);
    expect(existsSync(file)).toBe(false);

    // Older than 6 days, another destination, another size, or unreadable: dropped without a request.
    const old = new Date(Date.now() - SESSION_MAX_AGE_MS - 1000).toISOString();
    const stale = [
      { uri: `${s.base}/session/old`, size: b.size, createdAt: old, target },
      { uri: `${s.base}/session/foreign`, size: b.size, createdAt: new Date().toISOString(), target: 'http://x/y' },
      { uri: `${s.base}/session/resized`, size: b.size + 1, createdAt: new Date().toISOString(), target },
    ];
    for (const rec of stale) {
      write(rec);
      await uploadBlobs(planFor(s, b), sources, { sessionDir, retry: FAST });
      expect(existsSync(file)).toBe(false);
    }
    writeFileSync(file, '{not json');
    await uploadBlobs(planFor(s, b), sources, { sessionDir, retry: FAST });
    expect(s.log.some((q) => /\/session\/(old|foreign|resized)$/.test(q.url))).toBe(false);
    expect(s.stats.posts).toBe(5);
    expect(s.violations).toEqual([]);
  });

  it('a session already complete, or a final 412 (create-only object exists), counts as uploaded', async () => {
    const s = await server({ finalStatus: 412 });
    const b = blobFile(9 * MiB);
    const sessionDir = tmp();
    const progress: number[] = [];
    const r = await uploadBlobs(planFor(s, b), new Map([[b.sha256, b.abs]]), {
      sessionDir,
      retry: FAST,
      onProgress: (n) => progress.push(n),
    });
    expect(r.uploadedBlobs).toBe(1);
    expect(progress.at(-1)).toBe(b.size);
    expect(readdirSync(sessionDir)).toEqual([]);
    // A remembered session of a complete object: one status query, nothing sent.
    const uri = `${s.base}/session/${onlySession(s).id}`;
    writeFileSync(
      path.join(sessionDir, `${b.sha256}.json`),
      JSON.stringify({ uri, size: b.size, createdAt: new Date().toISOString(), target: `${s.base}/start/${b.sha256}` }),
    );
    const before = s.stats.bytesReceived;
    const again: number[] = [];
    await uploadBlobs(planFor(s, b), new Map([[b.sha256, b.abs]]), {
      sessionDir,
      retry: FAST,
      onProgress: (n) => again.push(n),
    });
    expect(s.stats.bytesReceived).toBe(before);
    expect(s.stats.posts).toBe(1);
    expect(again).toEqual([b.size]);
    expect(readdirSync(sessionDir)).toEqual([]);
  });

  it('a file that changes size mid-upload fails with E_HASH_MISMATCH naming it, and its session is dropped', async () => {
    const s = await server();
    const b = blobFile(12 * MiB);
    const sessionDir = tmp();
    let grown = false;
    const err = await uploadBlobs(planFor(s, b), new Map([[b.sha256, b.abs]]), {
      sessionDir,
      retry: FAST,
      onProgress: (n) => {
        if (n >= 8 * MiB && !grown) {
          grown = true;
          appendFileSync(b.abs, 'more');
        }
      },
    }).catch((e: unknown) => e);
    expect(isStudioError(err, 'E_HASH_MISMATCH')).toBe(true);
    expect((err as { details?: { paths?: string[]; sha256s?: string[] } }).details).toMatchObject({
      paths: [b.abs],
      sha256s: [b.sha256],
    });
    expect(s.stats.chunkPuts).toBe(1);
    expect(readdirSync(sessionDir)).toEqual([]);
  });

  it('an unwritable session folder only costs cross-process resumes', async () => {
    const s = await server();
    const b = blobFile(1 * MiB);
    const parent = tmp();
    writeFileSync(path.join(parent, 'uploads'), 'a file where the folder should be');
    await uploadBlobs(planFor(s, b), new Map([[b.sha256, b.abs]]), {
      sessionDir: path.join(parent, 'uploads'),
      retry: FAST,
    });
    expect(onlySession(s).data.equals(b.data)).toBe(true);
  });
});
