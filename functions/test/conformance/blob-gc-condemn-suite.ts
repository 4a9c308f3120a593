import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetadataPorts } from '../../src/core/ports.ts';
import { at, sha256, uid } from './fixtures.ts';
import type { MetadataHarness, MetadataSuiteOptions } from './metadata-harness.ts';

/** The BlobIndex clauses a GC run's mark phase relies on: condemnBlobs, putBlobs and absolveBlobs rescues. */
export function testBlobCondemnation(opts: MetadataSuiteOptions): void {
  describe(`BlobIndex conformance (GC: condemn, rescue): ${opts.name}`, () => {
    let h: MetadataHarness;
    let store: MetadataPorts;
    let team: string;

    beforeEach(async () => {
      h = await opts.make();
      store = h.stores;
      team = uid('team-a');
    });
    afterEach(async () => {
      await h.cleanup();
    });

    describe('blob garbage collection', () => {
      const a = sha256('gc a');
      const b = sha256('gc b');
      const c = sha256('gc c');
      const d = sha256('gc d');
      const sorted = (xs: string[]) => [...xs].sort();
      /** Every record of the team (the test teams hold few), by sha256. */
      const stored = async (t: string) => {
        const all = await store.blobIndex.listBlobs(t, { limit: 1000 });
        return new Map(all.map((r) => [r.sha256, r]));
      };

      it('condemnBlobs sets condemnedAt on existing records, returns them, and findBlobs shows it', async () => {
        await store.blobIndex.putBlobs(team, [
          { sha256: a, size: 10, verified: true },
          { sha256: b, size: 20, verified: false },
          { sha256: c, size: 30, verified: true },
        ]);
        expect(
          sorted(
            await store.blobIndex.condemnBlobs(
              team,
              [
                { sha256: a, size: 10 },
                { sha256: b, size: 20 },
              ],
              at(100),
            ),
          ),
        ).toEqual(sorted([a, b]));
        const found = await store.blobIndex.findBlobs(team, [a, b, c]);
        expect(found.get(a)).toStrictEqual({ sha256: a, size: 10, verified: true, condemnedAt: at(100) });
        expect(found.get(b)).toStrictEqual({ sha256: b, size: 20, verified: false, condemnedAt: at(100) });
        // Not condemned: the property is left out, not null or undefined.
        expect(found.get(c)).toStrictEqual({ sha256: c, size: 30, verified: true });
        const all = await stored(team);
        expect(all.get(a)).toMatchObject({ condemnedAt: at(100), deleting: false, verified: true, size: 10 });
        expect(all.get(c)).toStrictEqual({
          sha256: c,
          size: 30,
          verified: true,
          createdAt: expect.any(String),
          deleting: false,
        });
        expect((await store.blobIndex.condemnBlobs(team, [], at(101))).length).toBe(0);
      });

      it('condemnBlobs creates an unverified condemned record for an absent hash (once per hash)', async () => {
        const before = new Date().toISOString();
        expect(
          await store.blobIndex.condemnBlobs(
            team,
            [
              { sha256: d, size: 7 },
              { sha256: d, size: 7 },
            ],
            at(5),
          ),
        ).toEqual([d]);
        const after = new Date().toISOString();
        expect((await store.blobIndex.findBlobs(team, [d])).get(d)).toStrictEqual({
          sha256: d,
          size: 7,
          verified: false,
          condemnedAt: at(5),
        });
        const rec = (await store.blobIndex.listBlobs(team, { limit: 10 }))[0];
        expect(rec).toMatchObject({ sha256: d, size: 7, verified: false, condemnedAt: at(5), deleting: false });
        const createdAt = rec?.createdAt ?? '';
        expect(createdAt >= before && createdAt <= after, `createdAt ${createdAt}`).toBe(true);
      });

      it('condemnBlobs skips condemned (keeps the first time) and deleting records; returns only what it changed', async () => {
        await store.blobIndex.putBlobs(team, [
          { sha256: a, size: 1, verified: true },
          { sha256: b, size: 2, verified: true },
          { sha256: c, size: 3, verified: false },
        ]);
        expect(await store.blobIndex.condemnBlobs(team, [{ sha256: a, size: 1 }], at(1))).toEqual([a]);
        expect(await store.blobIndex.condemnBlobs(team, [{ sha256: b, size: 2 }], at(1))).toEqual([b]);
        expect(await store.blobIndex.beginBlobDelete(team, b, at(1))).toBe(true);
        const changed = await store.blobIndex.condemnBlobs(
          team,
          [a, b, c, d].map((sha) => ({ sha256: sha, size: 9 })),
          at(2),
        );
        expect(sorted(changed)).toEqual(sorted([c, d]));
        const all = await stored(team);
        expect(all.get(a)).toMatchObject({ condemnedAt: at(1), deleting: false, size: 1 });
        expect(all.get(b)).toMatchObject({ condemnedAt: at(1), deleting: true, size: 2 });
        expect(all.get(c)).toMatchObject({ condemnedAt: at(2), deleting: false, size: 3, verified: false });
        expect(all.get(d)).toMatchObject({ condemnedAt: at(2), deleting: false, size: 9, verified: false });
        // Condemning again changes nothing.
        expect(
          await store.blobIndex.condemnBlobs(
            team,
            [a, b, c, d].map((sha) => ({ sha256: sha, size: 9 })),
            at(3),
          ),
        ).toEqual([]);
        expect((await stored(team)).get(a)?.condemnedAt).toBe(at(1));
      });

      it('putBlobs clears condemnedAt, keeps verified monotone and keeps size and createdAt', async () => {
        await store.blobIndex.putBlobs(team, [{ sha256: a, size: 10, verified: true }]);
        const createdAt = (await stored(team)).get(a)?.createdAt;
        await store.blobIndex.condemnBlobs(team, [{ sha256: a, size: 10 }], at(1));
        // condemnedAt on the input is ignored; an unverified re-record does not downgrade.
        await store.blobIndex.putBlobs(team, [{ sha256: a, size: 10, verified: false, condemnedAt: at(9) }]);
        expect((await store.blobIndex.findBlobs(team, [a])).get(a)).toStrictEqual({
          sha256: a,
          size: 10,
          verified: true,
        });
        expect((await stored(team)).get(a)).toMatchObject({ createdAt, deleting: false, verified: true });
        expect((await stored(team)).get(a)?.condemnedAt).toBeUndefined();

        // A record condemn created (unverified) is rescued and upgraded by a verified putBlobs.
        await store.blobIndex.condemnBlobs(team, [{ sha256: b, size: 20 }], at(2));
        await store.blobIndex.putBlobs(team, [{ sha256: b, size: 20, verified: true }]);
        expect((await store.blobIndex.findBlobs(team, [b])).get(b)).toStrictEqual({
          sha256: b,
          size: 20,
          verified: true,
        });
        // A new record from putBlobs is never condemned, even if the input says so.
        await store.blobIndex.putBlobs(team, [{ sha256: c, size: 30, verified: false, condemnedAt: at(3) }]);
        expect((await store.blobIndex.findBlobs(team, [c])).get(c)).toStrictEqual({
          sha256: c,
          size: 30,
          verified: false,
        });
      });

      it('absolveBlobs clears condemnedAt; absent, uncondemned and deleting records are left alone', async () => {
        await store.blobIndex.putBlobs(team, [
          { sha256: a, size: 1, verified: true },
          { sha256: b, size: 2, verified: true },
          { sha256: c, size: 3, verified: false },
        ]);
        await store.blobIndex.condemnBlobs(
          team,
          [
            { sha256: a, size: 1 },
            { sha256: b, size: 2 },
          ],
          at(1),
        );
        expect(await store.blobIndex.beginBlobDelete(team, b, at(1))).toBe(true);
        await store.blobIndex.absolveBlobs(team, [a, b, c, d]);
        const all = await stored(team);
        expect(all.get(a)?.condemnedAt).toBeUndefined();
        expect(all.get(a)).toMatchObject({ verified: true, deleting: false });
        expect(all.get(b)).toMatchObject({ condemnedAt: at(1), deleting: true });
        expect(all.get(c)).toMatchObject({ verified: false, deleting: false });
        expect(all.get(c)?.condemnedAt).toBeUndefined();
        expect(all.has(d)).toBe(false);
        expect((await store.blobIndex.findBlobs(team, [a])).get(a)).toStrictEqual({
          sha256: a,
          size: 1,
          verified: true,
        });
        // An absolved record can no longer be deleted under its old condemnation.
        expect(await store.blobIndex.beginBlobDelete(team, a, at(1))).toBe(false);
        await store.blobIndex.absolveBlobs(team, []);
      });
    });
  });
}
