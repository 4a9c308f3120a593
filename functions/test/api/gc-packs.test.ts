/**
 * Blob GC and packs (core/gc.ts sweepPacks, core/packs.ts) on a real local host: a pack no record points into is
 * deleted, a mostly dead one is repacked (its live members rewritten, their records moved, the bytes still served),
 * and nothing younger than the grace plus the registration window is touched. Pack files are aged with utimes (the
 * disk store's createdAt is the file's mtime) instead of waiting the window out.
 */
import { existsSync, readdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { blobRequest } from '../../src/contract/transfer.ts';
import type { DownloadResponse, GcResponse } from '../../src/contract/wire.ts';
import { packKey } from '../../src/core/keys.ts';
import {
  bytes,
  createExperiment,
  type Harness,
  publish,
  route,
  sha256,
  sleep,
  startHarness,
  TEAM,
  uniqueKey,
} from './helpers.ts';

let h: Harness;
const previous = process.env.STUDIOML_GC_MIN_GRACE_SECONDS;

beforeAll(async () => {
  process.env.STUDIOML_GC_MIN_GRACE_SECONDS = '0';
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  if (previous === undefined) delete process.env.STUDIOML_GC_MIN_GRACE_SECONDS;
  else process.env.STUDIOML_GC_MIN_GRACE_SECONDS = previous;
});

async function gc(dryRun = false) {
  const res = await h.call<GcResponse>('POST', '/v1/gc', { body: { graceSeconds: 1, dryRun } });
  expect(res.status, res.text).toBe(200);
  return res.body.gc;
}

const record = async (sha: string) =>
  (await h.blobIndex.listBlobs(TEAM, { after: undefined, limit: 100_000 })).find((b) => b.sha256 === sha);

/** Every pack file of the team, aged two days (older than any grace + registration window used here). */
function agePacks(): string[] {
  const dir = join(h.fileOfKey(packKey(TEAM, 'ab'.repeat(32))), '..', '..');
  if (!existsSync(dir)) return [];
  const old = new Date(Date.now() - 2 * 86_400_000);
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));
  for (const f of files) utimesSync(f, old, old);
  return files;
}

async function download(key: string, tag: string, v: number, sha: string, size: number): Promise<Buffer> {
  const res = await h.call<DownloadResponse>('POST', route.downloads(key, tag, v), { body: { sha256s: [sha] } });
  expect(res.status, res.text).toBe(200);
  const req = blobRequest(res.body, sha);
  expect(req).not.toBeNull();
  const got = await fetch(req?.url as string, { headers: req?.headers });
  expect(got.status, await got.clone().text()).toBe(size > 0 ? 206 : 200);
  return Buffer.from(await got.arrayBuffer());
}

/** Two runs a grace apart: unreferenced records condemned, then deleted. */
async function twoRuns() {
  const first = await gc();
  await sleep(Math.max(0, Date.parse(first.startedAt) + 1100 - Date.now()));
  return gc();
}

describe('gc and packs', () => {
  it('deletes a pack whose members all died, repacks a mostly dead one, and keeps serving the live bytes', async () => {
    await twoRuns();
    agePacks();
    await gc(); // packs of earlier tests out of the way
    const dies = uniqueKey('dies');
    const mostly = uniqueKey('mostly');
    const lives = uniqueKey('lives');
    for (const k of [dies, mostly, lives]) await createExperiment(h, k);
    // One pack each: everything of `dies` dies; of `mostly`'s ten files one lives on in `lives`, which reuses it.
    await publish(
      h,
      dies,
      'w',
      Array.from({ length: 5 }, (_, i) => ({ path: `d${i}`, data: bytes(4000, 300 + i) })),
    );
    const files = Array.from({ length: 10 }, (_, i) => ({ path: `l${i}`, data: bytes(4000, 400 + i) }));
    await publish(h, mostly, 'w', files);
    const keep = files[0] as (typeof files)[number];
    const v2 = await publish(h, lives, 'w', [keep]);
    const before = await record(sha256(keep.data));
    expect(before?.pack).toBeDefined();
    const oldPack = h.fileOfKey(packKey(TEAM, before?.pack?.id as string));
    expect(existsSync(oldPack)).toBe(true);
    const deadPackOf = (await record(sha256(bytes(4000, 300))))?.pack?.id as string;

    for (const k of [dies, mostly]) {
      const del = await h.call('DELETE', `${route.experiment(k)}?force=true`);
      expect(del.status, del.text).toBe(200);
    }
    // Young packs are never touched, whatever their records say.
    const young = await twoRuns();
    expect(young.packs?.deleted.blobs).toBe(0);
    expect(young.packs?.repacked.blobs).toBe(0);
    expect(existsSync(h.fileOfKey(packKey(TEAM, deadPackOf)))).toBe(true);

    agePacks();
    const dry = await gc(true);
    expect(dry.packs?.deleted.blobs).toBe(1);
    expect(dry.packs?.repacked.blobs).toBe(1);
    expect(existsSync(h.fileOfKey(packKey(TEAM, deadPackOf)))).toBe(true);
    expect((await record(sha256(keep.data)))?.pack).toEqual(before?.pack);

    const run = await gc();
    expect(run.packs?.deleted.blobs).toBe(1);
    expect(run.packs?.repacked).toEqual({ blobs: 1, bytes: 9 * 4000 });
    expect(existsSync(h.fileOfKey(packKey(TEAM, deadPackOf)))).toBe(false);
    const after = await record(sha256(keep.data));
    expect(after?.pack?.id).not.toBe(before?.pack?.id);
    expect(after?.pack?.offset).toBe(0);
    expect(sha256(await download(lives, 'w', v2.version.version, sha256(keep.data), 4000))).toBe(sha256(keep.data));
    // The old pack is pointed into by nothing now: the next run (once it is old) deletes it.
    agePacks();
    const last = await gc();
    expect(last.packs?.deleted.blobs).toBe(1);
    expect(existsSync(oldPack)).toBe(false);
    expect(sha256(await download(lives, 'w', v2.version.version, sha256(keep.data), 4000))).toBe(sha256(keep.data));
  });

  it('a repack never moves a record a commit changed meanwhile (compare-and-set on the place)', async () => {
    const id = 'cd'.repeat(32);
    const sha = sha256(bytes(10, 501));
    await h.blobIndex.putBlobs(TEAM, [{ sha256: sha, size: 10, verified: true, pack: { id, offset: 7 } }]);
    const stale = { sha256: sha, from: { id, offset: 99 }, to: { id: 'ef'.repeat(32), offset: 0 } };
    expect(await h.blobIndex.movePackedBlobs(TEAM, [stale])).toEqual([]);
    expect((await record(sha))?.pack).toEqual({ id, offset: 7 });
    const fresh = { ...stale, from: { id, offset: 7 } };
    expect(await h.blobIndex.movePackedBlobs(TEAM, [fresh])).toEqual([sha]);
    expect((await record(sha))?.pack).toEqual({ id: 'ef'.repeat(32), offset: 0 });
  });
});
