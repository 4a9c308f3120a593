/**
 * The empty blob (sha256 of zero bytes) is stored by the API itself when a plan names it: no signed URL is handed
 * out for it, so a capture whose only new content is empty files needs no upload (and the CLI never starts its local
 * storage host for it). Job tokens keep the ordinary path (their uploads are staged per token).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PlanUploadResponse } from '../../src/contract/wire.ts';
import {
  blobKeyOf,
  commit,
  createExperiment,
  type Harness,
  manifestOf,
  route,
  sha256,
  startHarness,
  TEAM,
  text,
  uniqueKey,
} from './helpers.ts';

const EMPTY = sha256(new Uint8Array(0));

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h.close();
});

function plan(key: string, blobs: { sha256: string; size: number }[]) {
  return h.call<PlanUploadResponse>('POST', route.uploads(key, 'w'), { body: { blobs } });
}

describe('the empty blob', () => {
  it('is stored by the API, not signed: a version of empty files needs no upload', async () => {
    const key = uniqueKey('empty');
    await createExperiment(h, key);
    const p = await plan(key, [{ sha256: EMPTY, size: 0 }]);
    expect(p.status, p.text).toBe(200);
    expect(p.body).toEqual({ uploads: [], packs: [], present: 1 });
    expect(await h.server.backend.deps.blobs.stat(blobKeyOf(TEAM, EMPTY))).toMatchObject({ size: 0 });
    expect((await h.blobIndex.findBlobs(TEAM, [EMPTY])).get(EMPTY)).toMatchObject({ size: 0, verified: true });
    const empty = new Uint8Array(0);
    const c = await commit(
      h,
      key,
      'w',
      manifestOf([
        { path: 'a/empty.txt', data: empty },
        { path: 'b/.keep', data: empty },
      ]),
    );
    expect(c.status, c.text).toBe(201);
    expect(c.body.version).toMatchObject({ version: 1, files: 2, bytes: 0 });
  });

  it('next to other blobs: only the others are signed', async () => {
    const key = uniqueKey('empty-mixed');
    await createExperiment(h, key);
    const data = text('not empty\n');
    const p = await plan(key, [
      { sha256: EMPTY, size: 0 },
      { sha256: sha256(data), size: data.length },
    ]);
    expect(p.status, p.text).toBe(200);
    const signed = [
      ...p.body.uploads.map((u) => u.sha256),
      ...p.body.packs.flatMap((k) => k.members.map((m) => m.sha256)),
    ];
    expect(signed).toEqual([sha256(data)]);
    expect(p.body.present).toBe(1);
  });

  it('a zero-size blob claiming another hash is not stored by the API (its upload fails verification later)', async () => {
    const key = uniqueKey('empty-liar');
    await createExperiment(h, key);
    const liar = sha256('something else');
    const p = await plan(key, [{ sha256: liar, size: 0 }]);
    expect(p.status, p.text).toBe(200);
    expect(p.body.present).toBe(0);
    expect(await h.server.backend.deps.blobs.stat(blobKeyOf(TEAM, liar))).toBeNull();
  });
});
