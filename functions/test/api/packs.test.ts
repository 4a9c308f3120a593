/**
 * Pack registration (POST …/artifacts/:tag/packs; core/packs.ts registerPack) on a real local host: a pack counts
 * for commits only once registered, a registration must name exactly what was planned and uploaded, a second
 * registration changes nothing, and a registered pack's members download through ranged GETs with their exact bytes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SignedRequest } from '../../src/contract/transfer.ts';
import type { DownloadResponse, PlannedPack, PlanUploadResponse } from '../../src/contract/wire.ts';
import {
  bytes,
  commit,
  createExperiment,
  downloadRequest,
  expectError,
  type Harness,
  manifestOf,
  packBody,
  registerPack,
  route,
  send,
  sha256,
  startHarness,
  TEAM,
  text,
  uniqueKey,
} from './helpers.ts';

let h: Harness;
const key = uniqueKey('packs');

beforeAll(async () => {
  h = await startHarness();
  await createExperiment(h, key);
});
afterAll(async () => {
  await h?.close();
});

/** Plans `datas` for key/tag (one pack expected); optionally uploads its body. */
async function planned(
  datas: Uint8Array[],
  tag: string,
  upload = true,
): Promise<{ pack: PlannedPack; byHash: Map<string, Uint8Array> }> {
  const byHash = new Map(datas.map((d) => [sha256(d), d]));
  const res = await h.call<PlanUploadResponse>('POST', route.uploads(key, tag), {
    body: { blobs: datas.map((d) => ({ sha256: sha256(d), size: d.length })) },
  });
  expect(res.status, res.text).toBe(200);
  expect(res.body.packs).toHaveLength(1);
  const pack = res.body.packs[0] as PlannedPack;
  if (upload) {
    const put = await send(pack.request, packBody(pack, byHash));
    expect(put.status, await put.clone().text()).toBe(201);
  }
  return { pack, byHash };
}

const recorded = async (shas: string[]) => h.blobIndex.findBlobs(TEAM, shas);

describe('POST /v1/experiments/:key/artifacts/:tag/packs', () => {
  it('a wrong nonce, id or member list -> 400 E_BAD_REQUEST, nothing recorded', async () => {
    const datas = [text('bad registration one\n'), text('bad registration two\n')];
    const { pack } = await planned(datas, 'bad');
    const shas = datas.map((d) => sha256(d));
    const before = await h.snapshot();
    const otherNonce = pack.nonce === 'f'.repeat(32) ? 'e'.repeat(32) : 'f'.repeat(32);
    const variants = [
      { ...pack, nonce: otherNonce },
      { ...pack, id: sha256(pack.id) },
      { ...pack, members: [...pack.members].reverse() },
      { ...pack, members: pack.members.slice(0, 1) },
      { ...pack, members: pack.members.map((m, i) => (i === 0 ? { ...m, size: m.size + 1 } : m)) },
      { ...pack, members: [...pack.members, { sha256: sha256('extra'), size: 5 }] },
    ];
    for (const v of variants) expectError(await registerPack(h, key, 'bad', v), 400, 'E_BAD_REQUEST');
    expect(await h.snapshot()).toEqual(before);
    expect((await recorded(shas)).size).toBe(0);
    // The right registration still works afterwards.
    expect((await registerPack(h, key, 'bad', pack)).status).toBe(200);
    expect((await recorded(shas)).size).toBe(2);
  });

  it('a pack planned but never uploaded -> 409 E_BLOB_MISSING naming its members, nothing recorded', async () => {
    const datas = [text('never sent one\n'), text('never sent two\n')];
    const { pack } = await planned(datas, 'never', false);
    const before = await h.snapshot();
    const res = await registerPack(h, key, 'never', pack);
    expectError(res, 409, 'E_BLOB_MISSING');
    expect([
      ...((res.body as unknown as { error: { details: { missing: string[] } } }).error.details.missing ?? []),
    ]).toEqual(pack.members.map((m) => m.sha256));
    expect(await h.snapshot()).toEqual(before);
  });

  it('a commit before the registration -> 409 E_BLOB_MISSING; after it, 201', async () => {
    const files = [
      { path: 'a.txt', data: text('committed too early a\n') },
      { path: 'b.txt', data: text('committed too early b\n') },
    ];
    const { pack } = await planned(
      files.map((f) => f.data),
      'early',
    );
    const before = await h.snapshot();
    expectError(await commit(h, key, 'early', manifestOf(files)), 409, 'E_BLOB_MISSING');
    expect((await h.snapshot()).db.versions).toEqual(before.db.versions);
    expect((await registerPack(h, key, 'early', pack)).status).toBe(200);
    const ok = await commit(h, key, 'early', manifestOf(files));
    expect(ok.status, ok.text).toBe(201);
  });

  it('registering a pack twice is idempotent: the same answer, the same records, nothing else stored', async () => {
    const datas = [text('twice one\n'), bytes(5000, 801), text('twice three\n')];
    const { pack } = await planned(datas, 'twice');
    const first = await registerPack(h, key, 'twice', pack);
    expect(first.status, first.text).toBe(200);
    expect(first.body).toEqual({ id: pack.id, members: 3 });
    const shas = datas.map((d) => sha256(d));
    const places = await recorded(shas);
    let offset = 0;
    for (const m of pack.members) {
      expect(places.get(m.sha256)).toMatchObject({ size: m.size, verified: true, pack: { id: pack.id, offset } });
      offset += m.size;
    }
    const mid = await h.snapshot();
    const again = await registerPack(h, key, 'twice', pack);
    expect(again.status, again.text).toBe(200);
    expect(again.body).toEqual(first.body);
    expect(await h.snapshot()).toEqual(mid);
    expect(await recorded(shas)).toEqual(places);
  });

  it("a registered pack's members download through ranged GETs of the pack, with exactly their bytes", async () => {
    const files = [
      { path: 'one', data: text('ranged one\n') },
      { path: 'two', data: bytes(70_000, 811) },
      { path: 'three', data: bytes(1, 812) },
      { path: 'four', data: bytes(256 * 1024, 813) }, // at the pack limit: still packed
    ];
    const { pack } = await planned(
      files.map((f) => f.data),
      'ranged',
    );
    expect((await registerPack(h, key, 'ranged', pack)).status).toBe(200);
    const v = await commit(h, key, 'ranged', manifestOf(files));
    expect(v.status, v.text).toBe(201);
    const res = await h.call<DownloadResponse>('POST', route.downloads(key, 'ranged', 1), {
      body: { sha256s: files.map((f) => sha256(f.data)) },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.blobs).toEqual([]);
    // The members are back to back: one GET, signed for exactly their bytes.
    expect(res.body.packs?.map((p) => p.id)).toEqual([pack.id]);
    const total = pack.members.reduce((n, m) => n + m.size, 0);
    const all = res.body.packs?.[0];
    const whole = await send(all?.request as SignedRequest);
    expect(whole.status).toBe(206);
    expect(whole.headers.get('content-range')).toBe(`bytes 0-${total - 1}/${total}`);
    expect(
      Buffer.from(await whole.arrayBuffer()).equals(
        packBody(pack, new Map(files.map((f) => [sha256(f.data), f.data]))),
      ),
    ).toBe(true);
    // One file asked for alone: a GET of its bytes and nothing else of the pack.
    for (const f of files) {
      const one = await h.call<DownloadResponse>('POST', route.downloads(key, 'ranged', 1), {
        body: { sha256s: [sha256(f.data)] },
      });
      const m = one.body.packs?.[0]?.members[0];
      const got = await send(downloadRequest(one.body, sha256(f.data)));
      expect(got.status).toBe(206);
      expect(got.headers.get('content-range')).toBe(
        `bytes ${m?.offset}-${(m?.offset ?? 0) + f.data.length - 1}/${total}`,
      );
      expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(f.data))).toBe(true);
    }
  });

  it('an unknown experiment -> 404; a finished one -> 409 E_CONFLICT; nothing recorded', async () => {
    const done = uniqueKey('packs-done');
    await createExperiment(h, done);
    const datas = [text('late for a finished run\n')];
    const { pack } = await planned(datas, 'late');
    expect((await h.call('POST', route.finish(done), { body: { status: 'finished', exitCode: 0 } })).status).toBe(200);
    const before = await h.snapshot();
    expectError(await registerPack(h, uniqueKey('nope'), 'late', pack), 404, 'E_NOT_FOUND');
    expectError(await registerPack(h, done, 'late', pack), 409, 'E_CONFLICT');
    expect(await h.snapshot()).toEqual(before);
  });
});
