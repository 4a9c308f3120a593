/**
 * A signed download of packed blobs hands out exactly their bytes (core/artifacts.ts signDownloads): a pack may
 * hold blobs the caller may not read (another version's), so the URL is signed for one run of back-to-back members
 * and the local host serves that range whatever `Range` the client sends, or none.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { DownloadResponse } from '../../src/contract/wire.ts';
import { contiguousRuns } from '../../src/core/artifacts.ts';
import {
  commit,
  createExperiment,
  type Harness,
  manifestOf,
  route,
  sha256,
  startHarness,
  uniqueKey,
  uploadBlobs,
} from './helpers.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

const text = (s: string) => new TextEncoder().encode(s);

describe('signed pack ranges', () => {
  it('a URL for one packed blob serves that blob only, without a Range header or with a wider one', async () => {
    const key = uniqueKey('leak');
    await createExperiment(h, key);
    const pub = text('public A\n');
    const secret = text('SECRET S\n');
    const after = text('public B\n');
    // One pack holds all three; the version references A and B only.
    await uploadBlobs(h, key, 'x', [pub, secret, after]);
    const v = await commit(
      h,
      key,
      'x',
      manifestOf([
        { path: 'a', data: pub },
        { path: 'b', data: after },
      ]),
    );
    expect(v.status, v.text).toBe(201);
    const res = await h.call<DownloadResponse>('POST', route.downloads(key, 'x', 1), {
      body: { sha256s: [sha256(pub), sha256(after)] },
    });
    expect(res.status, res.text).toBe(200);
    // Not back to back in the pack (S sits between them): two ranges, neither spanning S.
    expect(res.body.packs).toHaveLength(2);
    for (const p of res.body.packs ?? []) {
      for (const headers of [{}, { range: 'bytes=0-' }, p.request.headers]) {
        const got = await fetch(p.request.url, { headers });
        const body = Buffer.from(await got.arrayBuffer()).toString();
        expect(body).not.toContain('SECRET');
        expect([pub, after].map((b) => Buffer.from(b).toString())).toContain(body);
      }
    }
    // The range is part of the signature: dropping it from the URL breaks it.
    const u = new URL(res.body.packs?.[0]?.request.url as string);
    u.searchParams.delete('range');
    expect((await fetch(u)).status).toBe(403);
  });

  it('groups only members that follow each other, at most the given bytes per run', () => {
    const m = (offset: number, size: number) => ({ offset, size });
    expect(contiguousRuns([m(0, 10), m(10, 5), m(15, 1)], 100)).toEqual([[m(0, 10), m(10, 5), m(15, 1)]]);
    expect(contiguousRuns([m(0, 10), m(11, 5)], 100)).toEqual([[m(0, 10)], [m(11, 5)]]);
    expect(contiguousRuns([m(0, 60), m(60, 60), m(120, 10)], 100)).toEqual([[m(0, 60)], [m(60, 60), m(120, 10)]]);
    expect(contiguousRuns([], 100)).toEqual([]);
  });
});
