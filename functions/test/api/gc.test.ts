/**
 * Blob garbage collection through the API on a real local host (POST /v1/gc; core/gc.ts). The host is started with
 * STUDIOML_GC_MIN_GRACE_SECONDS=0 so that a grace of one second can be used and waited out.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { GcReport } from '../../src/contract/results.ts';
import type { DownloadResponse, GcResponse, ListAuditResponse } from '../../src/contract/wire.ts';
import { recordUploadedBlobs } from '../../src/core/blob-records.ts';
import { collectGarbage } from '../../src/core/gc.ts';
import { PACK_REGISTER_SLACK_SECONDS } from '../../src/core/packs.ts';
import {
  blobKeyOf,
  bytes,
  commit,
  createExperiment,
  downloadRequest,
  expectError,
  type Harness,
  manifestOf,
  packKeyOf,
  publish,
  route,
  send,
  sha256,
  sleep,
  startHarness,
  TEAM,
  uniqueKey,
  uploadBlobs,
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

async function gc(body: { graceSeconds?: number; dryRun?: boolean } = { graceSeconds: 1 }): Promise<GcReport> {
  const res = await h.call<GcResponse>('POST', '/v1/gc', { body });
  expect(res.status, res.text).toBe(200);
  return res.body.gc;
}

/** Waits until a grace of one second has passed since `report` started. */
async function afterGrace(report: GcReport): Promise<void> {
  const wait = Date.parse(report.startedAt) + 1100 - Date.now();
  if (wait > 0) await sleep(wait);
}

const record = async (sha: string) =>
  (await h.blobIndex.listBlobs(TEAM, { after: undefined, limit: 100_000 })).find((b) => b.sha256 === sha);
/** An object of its own (blobs over 256 KiB, manifests, objects written below the API). */
const loose = (sha: string) => existsSync(h.fileOfKey(blobKeyOf(TEAM, sha)));
/**
 * Whether the team still holds the blob: recorded (not being deleted) and the object its record names exists (its pack
 * for a small blob: a packed blob has no object of its own, core/packs.ts).
 */
async function stored(sha: string): Promise<boolean> {
  const r = await record(sha);
  if (!r || r.deleting) return false;
  return existsSync(h.fileOfKey(r.pack ? packKeyOf(TEAM, r.pack.id) : blobKeyOf(TEAM, sha)));
}

async function deleteExperiment(key: string): Promise<void> {
  const res = await h.call('DELETE', `${route.experiment(key)}?force=true`);
  expect(res.status, res.text).toBe(200);
}

/** Clears what earlier tests left condemned, so each test reads its own counts. */
async function settle(): Promise<void> {
  const first = await gc();
  await afterGrace(first);
  await gc();
}

describe('POST /v1/gc', () => {
  it('frees the blobs of a deleted experiment in two runs and keeps the ones another experiment shares', async () => {
    await settle();
    const shared = bytes(3000, 101);
    const own = bytes(5000, 102);
    const keep = uniqueKey('keep');
    const gone = uniqueKey('gone');
    await createExperiment(h, keep);
    await createExperiment(h, gone);
    await publish(h, keep, 'w', [{ path: 'shared.bin', data: shared }]);
    await publish(h, gone, 'w', [
      { path: 'shared.bin', data: shared },
      { path: 'own.bin', data: own },
    ]);
    const goneVersion = await h.call<{ version: { manifestSha256: string } }>('GET', route.version(gone, 'w', 1));
    const goneManifest = goneVersion.body.version.manifestSha256;
    const ownPack = (await record(sha256(own)))?.pack?.id as string;
    expect(ownPack).toBeDefined();
    expect(loose(sha256(own))).toBe(false);
    await deleteExperiment(gone);

    const dry = await gc({ graceSeconds: 1, dryRun: true });
    expect(dry).toMatchObject({ dryRun: true, deleted: { blobs: 0 }, condemned: { blobs: 2 } });
    expect((await record(sha256(own)))?.condemnedAt).toBeUndefined();

    const first = await gc();
    expect(first).toMatchObject({ dryRun: false, deleted: { blobs: 0, bytes: 0 }, unrecorded: { blobs: 0 } });
    // own.bin and the deleted experiment's manifest.
    expect(first.condemned.blobs).toBe(2);
    expect(first.condemned.bytes).toBeGreaterThan(5000);
    expect(first.deleteAfter).toBe(new Date(Date.parse(first.startedAt) + 1000).toISOString());
    expect((await record(sha256(own)))?.condemnedAt).toBe(first.startedAt);
    expect((await record(sha256(shared)))?.condemnedAt).toBeUndefined();
    expect(await stored(sha256(own))).toBe(true);

    // A second run within the grace deletes nothing.
    const early = await gc({ graceSeconds: 3600 });
    expect(early).toMatchObject({ deleted: { blobs: 0 }, condemned: { blobs: 0 }, pending: { blobs: 2 } });

    await afterGrace(first);
    const second = await gc();
    expect(second.deleted).toEqual({ blobs: 2, bytes: first.condemned.bytes });
    expect(second.condemned.blobs).toBe(0);
    expect(await stored(sha256(own))).toBe(false);
    expect(loose(goneManifest)).toBe(false);
    // own.bin was small: its record is gone; its pack, young, stays until older than grace + registration window.
    expect(existsSync(h.fileOfKey(packKeyOf(TEAM, ownPack)))).toBe(true);
    expect(second.packs?.deleted.blobs).toBe(0);
    expect(await record(sha256(own))).toBeUndefined();
    expect(await stored(sha256(shared))).toBe(true);

    // The surviving experiment still downloads its bytes.
    const dl = await h.call<DownloadResponse>('POST', route.downloads(keep, 'w', 1), {
      body: { sha256s: [sha256(shared)] },
    });
    expect(dl.status, dl.text).toBe(200);
    const got = await send(downloadRequest(dl.body, sha256(shared)));
    expect(got.status).toBe(206);
    expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(shared))).toBe(true);

    // Runs are audited with their counts (the dry run is not): first, early, second, newest first.
    const audit = await h.call<ListAuditResponse>('GET', '/v1/audit?action=blobs.gc&limit=3');
    expect(audit.body.entries.map((e) => e.details.deleted)).toEqual([second.deleted, early.deleted, first.deleted]);
    expect(audit.body.entries.map((e) => e.details.condemned)).toEqual([
      second.condemned,
      early.condemned,
      first.condemned,
    ]);
    expect(Date.parse(audit.body.entries[2]?.at as string)).toBeGreaterThanOrEqual(Date.parse(dry.finishedAt));
  });

  it('a commit that needs a condemned blob again keeps it: the next run absolves it instead of deleting', async () => {
    await settle();
    const data = bytes(4000, 103);
    const a = uniqueKey('a');
    await createExperiment(h, a);
    await publish(h, a, 'w', [{ path: 'x.bin', data }]);
    await deleteExperiment(a);
    const first = await gc();
    expect((await record(sha256(data)))?.condemnedAt).toBe(first.startedAt);

    // A new capture plans the blob (still stored: nothing to upload) and commits it.
    const b = uniqueKey('b');
    await createExperiment(h, b);
    const plan = await uploadBlobs(h, b, 'w', [data]);
    expect(plan.present).toBe(1);
    const res = await commit(h, b, 'w', manifestOf([{ path: 'renamed.bin', data }]));
    expect(res.status, res.text).toBe(201);
    expect((await record(sha256(data)))?.condemnedAt).toBeUndefined();

    await afterGrace(first);
    const second = await gc();
    expect(await stored(sha256(data))).toBe(true);
    expect(second.deleted.blobs).toBe(1); // only a's manifest
    expect((await record(sha256(data)))?.pack).toBeDefined();
  });

  it('loses the race to a commit between its look at the records and its delete (compare-and-set)', async () => {
    await settle();
    const data = bytes(2500, 104);
    const a = uniqueKey('race');
    await createExperiment(h, a);
    await publish(h, a, 'w', [{ path: 'r.bin', data }]);
    await deleteExperiment(a);
    const deps = h.server.backend.deps;
    const admin = await deps.identity.authenticate(h.token);
    const first = await collectGarbage(deps, admin, TEAM, { graceSeconds: 1 });
    await afterGrace(first);
    // The run reads the condemned record, then a commit re-records the blob just before the compare-and-set.
    const racing = {
      ...deps,
      blobIndex: new Proxy(deps.blobIndex, {
        get(target, prop, receiver) {
          if (prop === 'beginBlobDelete') {
            return async (team: string, sha: string, condemnedAt: string) => {
              if (sha === sha256(data))
                await target.putBlobs(team, [{ sha256: sha, size: data.length, verified: true }]);
              return target.beginBlobDelete(team, sha, condemnedAt);
            };
          }
          return Reflect.get(target, prop, receiver);
        },
      }),
    };
    const second = await collectGarbage(racing, admin, TEAM, { graceSeconds: 1 });
    expect(second.absolved).toBe(1);
    expect(await stored(sha256(data))).toBe(true);
    expect((await record(sha256(data)))?.condemnedAt).toBeUndefined();
  });

  it('an upload whose commit never came is condemned like any unreferenced blob, then deleted', async () => {
    await settle();
    const data = bytes(6000, 105);
    const a = uniqueKey('orphan');
    await createExperiment(h, a);
    await uploadBlobs(h, a, 'w', [data]); // uploaded (the local host records it), never committed
    expect(await record(sha256(data))).toMatchObject({ verified: true, deleting: false });
    const first = await gc();
    expect(first.condemned).toEqual({ blobs: 1, bytes: 6000 });
    expect(first.unrecorded.blobs).toBe(0);
    await afterGrace(first);
    const second = await gc();
    expect(second.deleted).toEqual({ blobs: 1, bytes: 6000 });
    expect(await stored(sha256(data))).toBe(false);
  });

  it('an object storage holds without any record is condemned only once older than the grace', async () => {
    // As on GCS, where an upload is not recorded until its commit: here the object is written below the API.
    await settle();
    const data = bytes(7000, 108);
    await h.server.backend.blobs.put(blobKeyOf(TEAM, sha256(data)), data, 'application/octet-stream');
    expect(await record(sha256(data))).toBeUndefined();
    const young = await gc({ graceSeconds: 5 });
    expect(young.unrecorded.blobs).toBe(0); // it may be a capture whose commit is still coming
    expect(await record(sha256(data))).toBeUndefined();
    await sleep(1100);
    const first = await gc();
    expect(first.unrecorded).toEqual({ blobs: 1, bytes: 7000 });
    expect(first.condemned).toEqual({ blobs: 1, bytes: 7000 });
    expect(await record(sha256(data))).toMatchObject({
      verified: false,
      condemnedAt: first.startedAt,
      deleting: false,
    });
    await afterGrace(first);
    const second = await gc();
    expect(second.deleted).toEqual({ blobs: 1, bytes: 7000 });
    expect(loose(sha256(data))).toBe(false);
    expect(await record(sha256(data))).toBeUndefined();
  });

  it('a commit of a blob gc deleted since the plan is refused with E_BLOB_MISSING; uploading again fixes it', async () => {
    await settle();
    const data = bytes(3500, 106);
    const a = uniqueKey('old');
    await createExperiment(h, a);
    await publish(h, a, 'w', [{ path: 'y.bin', data }]);
    await deleteExperiment(a);
    const b = uniqueKey('late');
    await createExperiment(h, b);
    const plan = await uploadBlobs(h, b, 'w', [data]);
    expect(plan.present).toBe(1); // the client will not upload it
    const first = await gc();
    await afterGrace(first);
    await gc();
    expect(await stored(sha256(data))).toBe(false);
    const before = await h.snapshot();
    const refused = await commit(h, b, 'w', manifestOf([{ path: 'y.bin', data }]));
    expectError(refused, 409, 'E_BLOB_MISSING');
    expect((await h.snapshot()).db.versions).toEqual(before.db.versions);
    const again = await uploadBlobs(h, b, 'w', [data]);
    expect(again.present).toBe(0);
    const ok = await commit(h, b, 'w', manifestOf([{ path: 'y.bin', data }]));
    expect(ok.status, ok.text).toBe(201);
    expect(await stored(sha256(data))).toBe(true);
  });

  it('a blob left being deleted by a crashed run counts as absent, and the next run finishes it', async () => {
    await settle();
    const data = bytes(1500, 107);
    const a = uniqueKey('crash');
    await createExperiment(h, a);
    await publish(h, a, 'w', [{ path: 'z.bin', data }]);
    await deleteExperiment(a);
    const first = await gc();
    await afterGrace(first);
    // The crashed run got as far as the compare-and-set.
    expect(await h.blobIndex.beginBlobDelete(TEAM, sha256(data), first.startedAt)).toBe(true);
    const b = uniqueKey('after-crash');
    await createExperiment(h, b);
    const plan = await uploadBlobs(h, b, 'w', [data]);
    expect(plan.present).toBe(0); // deleting counts as absent: uploaded again
    const refused = await commit(h, b, 'w', manifestOf([{ path: 'z.bin', data }]));
    expectError(refused, 409, 'E_BLOB_MISSING');
    const next = await gc();
    expect(next.deleted.blobs).toBeGreaterThanOrEqual(1);
    expect(await record(sha256(data))).toBeUndefined();
    await uploadBlobs(h, b, 'w', [data]);
    const ok = await commit(h, b, 'w', manifestOf([{ path: 'z.bin', data }]));
    expect(ok.status, ok.text).toBe(201);
  });

  it('an upload request holding a blob being deleted records the others of the request, not that one', async () => {
    await settle();
    const doomed = bytes(1700, 108);
    const a = uniqueKey('doomed');
    await createExperiment(h, a);
    await publish(h, a, 'w', [{ path: 'd.bin', data: doomed }]);
    await deleteExperiment(a);
    const first = await gc();
    await afterGrace(first);
    expect(await h.blobIndex.beginBlobDelete(TEAM, sha256(doomed), first.startedAt)).toBe(true);
    const fresh = bytes(900, 109);
    // What the local storage host does after verifying one pack of uploads (core/blob-records.ts).
    await recordUploadedBlobs(h.server.backend.deps, [
      { key: blobKeyOf(TEAM, sha256(doomed)), size: doomed.length, sha256: sha256(doomed) },
      { key: blobKeyOf(TEAM, sha256(fresh)), size: fresh.length, sha256: sha256(fresh) },
      { key: 'not/a/blob/key', size: 1, sha256: sha256('x') },
    ]);
    expect(await record(sha256(doomed))).toMatchObject({ deleting: true });
    expect(await record(sha256(fresh))).toMatchObject({ verified: true, deleting: false, size: 900 });
    await gc(); // finishes the delete
    expect(await record(sha256(doomed))).toBeUndefined();
  });

  it('refuses a bad grace or body with E_BAD_REQUEST and changes nothing', async () => {
    const before = await h.snapshot();
    const auditBefore = await h.call<ListAuditResponse>('GET', '/v1/audit?limit=1');
    process.env.STUDIOML_GC_MIN_GRACE_SECONDS = '0';
    for (const body of [
      { graceSeconds: 0 },
      { graceSeconds: 1.5 },
      { graceSeconds: 91 * 86_400 },
      { grace: 5 },
      { dryRun: 'yes' },
    ]) {
      expectError(await h.call('POST', '/v1/gc', { body }), 400, 'E_BAD_REQUEST');
    }
    expect(await h.snapshot()).toEqual(before);
    expect((await h.call<ListAuditResponse>('GET', '/v1/audit?limit=1')).body).toEqual(auditBefore.body);
  });

  it('keeps the one-hour floor without the test setting', async () => {
    const deps = { ...h.server.backend.deps };
    delete deps.gcMinGraceSeconds;
    const admin = await deps.identity.authenticate(h.token);
    await expect(collectGarbage(deps, admin, TEAM, { graceSeconds: 3599 })).rejects.toMatchObject({
      code: 'E_BAD_REQUEST',
    });
    const ok = await collectGarbage(deps, admin, TEAM, { graceSeconds: 3600, dryRun: true });
    expect(ok.graceSeconds).toBe(3600);
    const byDefault = await collectGarbage(deps, admin, TEAM, { dryRun: true });
    expect(byDefault.graceSeconds).toBe(86_400);
  });
});

describe('staged uploads of job tokens', () => {
  it('a staged upload no commit promoted is deleted once older than the grace; a fresh one stays', async () => {
    const deps = h.server.backend.deps;
    const staged = `teams/${TEAM}/uploads/some-token/ab/${'ab'.repeat(32)}`;
    await deps.blobs.put(staged, bytes(10, 3), 'application/octet-stream');
    const first = await gc({ graceSeconds: 3600 });
    expect(first.staged.blobs).toBe(0);
    expect(await deps.blobs.stat(staged)).toMatchObject({ size: 10 });
    await sleep(1100);
    const dry = await gc({ graceSeconds: 1, dryRun: true });
    expect(dry.staged).toEqual({ blobs: 1, bytes: 10 });
    expect(await deps.blobs.stat(staged)).toMatchObject({ size: 10 });
    const second = await gc({ graceSeconds: 1 });
    expect(second.staged).toEqual({ blobs: 1, bytes: 10 });
    expect(await deps.blobs.stat(staged)).toBeNull();
  });
});

describe('packs', () => {
  it('a pack whose members all became unreferenced is deleted after two runs; a pack with a live member stays', async () => {
    await settle();
    const deps = h.server.backend.deps;
    const admin = await deps.identity.authenticate(h.token);
    // Packs are touched only once older than the grace plus the time they may still be registered (core/packs.ts):
    // these runs see the backend's clock that much later instead of waiting it out.
    const ahead = (deps.urlTtlSeconds + PACK_REGISTER_SLACK_SECONDS + 60) * 1000;
    const later = { ...deps, now: () => new Date(Date.now() + ahead) };
    const run = () => collectGarbage(later, admin, TEAM, { graceSeconds: 1 });
    await run(); // packs earlier tests left without records out of the way

    const dies = uniqueKey('pack-dies');
    const mixed = uniqueKey('pack-mixed');
    const lives = uniqueKey('pack-lives');
    for (const k of [dies, mixed, lives]) await createExperiment(h, k);
    const d1 = bytes(3000, 121);
    const d2 = bytes(4000, 122);
    // The live member fills most of its pack, so the pack is kept as it is (not repacked).
    const live = bytes(200 * 1024, 123);
    const dead = bytes(2000, 124);
    await publish(h, dies, 'w', [
      { path: 'd1', data: d1 },
      { path: 'd2', data: d2 },
    ]);
    await publish(h, mixed, 'w', [
      { path: 'live', data: live },
      { path: 'dead', data: dead },
    ]);
    await publish(h, lives, 'w', [{ path: 'live', data: live }]); // present already: stays in mixed's pack
    const deadPack = (await record(sha256(d1)))?.pack?.id as string;
    const livePack = (await record(sha256(live)))?.pack;
    expect(deadPack).toBeDefined();
    expect((await record(sha256(d2)))?.pack?.id).toBe(deadPack);
    expect((await record(sha256(dead)))?.pack?.id).toBe(livePack?.id);
    const deadFile = h.fileOfKey(packKeyOf(TEAM, deadPack));
    const liveFile = h.fileOfKey(packKeyOf(TEAM, livePack?.id as string));
    for (const k of [dies, mixed]) await deleteExperiment(k);

    // First run: the unreferenced records are condemned; records still point into both packs, so both stay.
    const first = await run();
    expect(first.condemned.blobs).toBe(5); // d1, d2, dead and the two manifests
    expect(first.packs?.deleted).toEqual({ blobs: 0, bytes: 0 });
    expect([existsSync(deadFile), existsSync(liveFile)]).toEqual([true, true]);
    expect((await record(sha256(d1)))?.condemnedAt).toBe(first.startedAt);

    await sleep(1100); // the grace of one second, on the same (shifted) clock
    const second = await run();
    expect(second.deleted.blobs).toBe(5);
    for (const d of [d1, d2, dead]) expect(await record(sha256(d))).toBeUndefined();
    // No record points into dies' pack any more: deleted. The mixed pack keeps its live member (and the dead bytes).
    expect(second.packs?.deleted).toEqual({ blobs: 1, bytes: d1.length + d2.length });
    expect(second.packs?.repacked.blobs).toBe(0);
    expect(existsSync(deadFile)).toBe(false);
    expect(existsSync(liveFile)).toBe(true);
    expect((await record(sha256(live)))?.pack).toEqual(livePack);
    const dl = await h.call<DownloadResponse>('POST', route.downloads(lives, 'w', 1), {
      body: { sha256s: [sha256(live)] },
    });
    expect(dl.status, dl.text).toBe(200);
    const got = await send(downloadRequest(dl.body, sha256(live)));
    expect(got.status).toBe(206);
    expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(live))).toBe(true);

    // A third run changes nothing about the live pack.
    const third = await run();
    expect(third.packs?.deleted.blobs).toBe(0);
    expect(existsSync(liveFile)).toBe(true);
  });
});
