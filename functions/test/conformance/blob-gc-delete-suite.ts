import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetadataPorts } from '../../src/core/ports.ts';
import { at, expectCode, sha256, uid } from './fixtures.ts';
import type { MetadataHarness, MetadataSuiteOptions } from './metadata-harness.ts';

/** The BlobIndex clauses of a GC run's delete phase: beginBlobDelete, finishBlobDelete, listBlobs, isolation, races. */
export function testBlobDeletion(opts: MetadataSuiteOptions): void {
  describe(`BlobIndex conformance (GC: delete, list): ${opts.name}`, () => {
    let h: MetadataHarness;
    let store: MetadataPorts;
    let team: string;
    let other: string;

    beforeEach(async () => {
      h = await opts.make();
      store = h.stores;
      team = uid('team-a');
      other = uid('team-b');
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

      it('beginBlobDelete: true only with the same condemnedAt; false after a rescue, when absent or never condemned; true again when deleting', async () => {
        await store.blobIndex.putBlobs(team, [{ sha256: a, size: 1, verified: true }]);
        expect(await store.blobIndex.beginBlobDelete(team, a, at(1))).toBe(false); // never condemned
        expect(await store.blobIndex.beginBlobDelete(team, d, at(1))).toBe(false); // absent
        expect((await stored(team)).has(d)).toBe(false);

        await store.blobIndex.condemnBlobs(team, [{ sha256: a, size: 1 }], at(1));
        expect(await store.blobIndex.beginBlobDelete(team, a, at(2))).toBe(false); // another condemnation
        expect((await stored(team)).get(a)?.deleting).toBe(false);

        await store.blobIndex.putBlobs(team, [{ sha256: a, size: 1, verified: true }]); // a commit needed it again
        expect(await store.blobIndex.beginBlobDelete(team, a, at(1))).toBe(false);
        expect((await stored(team)).get(a)?.deleting).toBe(false);

        // Condemned again later: only the new time counts.
        await store.blobIndex.condemnBlobs(team, [{ sha256: a, size: 1 }], at(3));
        expect(await store.blobIndex.beginBlobDelete(team, a, at(1))).toBe(false);
        expect(await store.blobIndex.beginBlobDelete(team, a, at(3))).toBe(true);
        expect((await stored(team)).get(a)).toMatchObject({ deleting: true, condemnedAt: at(3) });
        // Already deleting: true (a crashed run is finished by the next one), whatever time it passes.
        expect(await store.blobIndex.beginBlobDelete(team, a, at(3))).toBe(true);
        expect(await store.blobIndex.beginBlobDelete(team, a, at(99))).toBe(true);
        expect(await store.blobIndex.beginBlobDelete(other, a, at(3))).toBe(false);
      });

      it('findBlobs hides deleting records; putBlobs on one is E_CONFLICT with details.deleting and does not revive it', async () => {
        await store.blobIndex.putBlobs(team, [
          { sha256: a, size: 1, verified: false },
          { sha256: b, size: 2, verified: true },
        ]);
        await store.blobIndex.condemnBlobs(team, [{ sha256: a, size: 1 }], at(1));
        expect(await store.blobIndex.beginBlobDelete(team, a, at(1))).toBe(true);
        const found = await store.blobIndex.findBlobs(team, [a, b]);
        expect([...found.keys()]).toEqual([b]);

        const err = await expectCode(
          store.blobIndex.putBlobs(team, [
            { sha256: c, size: 3, verified: true },
            { sha256: a, size: 1, verified: true },
            { sha256: b, size: 2, verified: true },
          ]),
          'E_CONFLICT',
        );
        expect((err as Error & { details?: { deleting?: unknown } }).details?.deleting).toEqual([a]);
        const rec = (await stored(team)).get(a);
        expect(rec).toMatchObject({ deleting: true, condemnedAt: at(1), verified: false, size: 1 });
        expect((await store.blobIndex.findBlobs(team, [a])).has(a)).toBe(false);
        // Also alone, and still refused after another try.
        await expectCode(store.blobIndex.putBlobs(team, [{ sha256: a, size: 1, verified: false }]), 'E_CONFLICT');
        expect((await stored(team)).get(a)).toMatchObject({ deleting: true, condemnedAt: at(1) });
      });

      it('finishBlobDelete removes only deleting records; the hash can then be recorded afresh', async () => {
        await store.blobIndex.putBlobs(team, [
          { sha256: a, size: 1, verified: true },
          { sha256: b, size: 2, verified: true },
          { sha256: c, size: 3, verified: true },
        ]);
        await store.blobIndex.condemnBlobs(
          team,
          [
            { sha256: a, size: 1 },
            { sha256: b, size: 2 },
          ],
          at(1),
        );
        expect(await store.blobIndex.beginBlobDelete(team, a, at(1))).toBe(true);
        await store.blobIndex.finishBlobDelete(team, a);
        await store.blobIndex.finishBlobDelete(team, b); // condemned, not deleting
        await store.blobIndex.finishBlobDelete(team, c); // neither
        await store.blobIndex.finishBlobDelete(team, d); // absent
        await store.blobIndex.finishBlobDelete(team, a); // already gone
        const all = await stored(team);
        expect(sorted([...all.keys()])).toEqual(sorted([b, c]));
        expect(all.get(b)).toMatchObject({ condemnedAt: at(1), deleting: false });
        expect(await store.blobIndex.beginBlobDelete(team, a, at(1))).toBe(false);

        await store.blobIndex.putBlobs(team, [{ sha256: a, size: 1, verified: false }]);
        expect((await store.blobIndex.findBlobs(team, [a])).get(a)).toStrictEqual({
          sha256: a,
          size: 1,
          verified: false,
        });
        expect((await stored(team)).get(a)).toMatchObject({ deleting: false });
      });

      it('listBlobs pages by sha256 ascending with after (exclusive) and limit; deleting records included', async () => {
        expect(await store.blobIndex.listBlobs(team, { limit: 10 })).toEqual([]);
        const before = new Date().toISOString();
        const recs = Array.from({ length: 7 }, (_, i) => ({
          sha256: sha256(`page ${i}`),
          size: i,
          verified: i % 2 === 0,
        }));
        await store.blobIndex.putBlobs(team, recs);
        const after = new Date().toISOString();
        const order = sorted(recs.map((r) => r.sha256));
        const gone = order[4] as string;
        await store.blobIndex.condemnBlobs(team, [{ sha256: gone, size: 0 }], at(1));
        expect(await store.blobIndex.beginBlobDelete(team, gone, at(1))).toBe(true);

        const pages: string[][] = [];
        let cursor: string | undefined;
        // Bounded: an adapter whose `after` is not exclusive would page forever.
        for (let n = 0; n < 10; n++) {
          const page = await store.blobIndex.listBlobs(team, { after: cursor, limit: 3 });
          if (page.length === 0) break;
          expect(page.length).toBeLessThanOrEqual(3);
          pages.push(page.map((r) => r.sha256));
          for (const r of page) {
            const src = recs.find((x) => x.sha256 === r.sha256);
            expect(r).toMatchObject({ size: src?.size, verified: src?.verified, deleting: r.sha256 === gone });
            expect(r.createdAt >= before && r.createdAt <= after, `createdAt ${r.createdAt}`).toBe(true);
          }
          cursor = page[page.length - 1]?.sha256;
        }
        expect(pages.map((p) => p.length)).toEqual([3, 3, 1]);
        expect(pages.flat()).toEqual(order);
        expect((await store.blobIndex.listBlobs(team, { after: order[1], limit: 2 })).map((r) => r.sha256)).toEqual(
          order.slice(2, 4),
        );
        // `after` need not be a recorded hash.
        expect((await store.blobIndex.listBlobs(team, { after: '0', limit: 100 })).map((r) => r.sha256)).toEqual(
          order.filter((s) => s > '0'),
        );
        expect(await store.blobIndex.listBlobs(team, { after: order[6], limit: 5 })).toEqual([]);
        expect(await store.blobIndex.listBlobs(other, { limit: 5 })).toEqual([]);
      });

      it('teams are isolated: condemnation, deletion and listing are per team', async () => {
        await store.blobIndex.putBlobs(team, [{ sha256: a, size: 1, verified: true }]);
        await store.blobIndex.putBlobs(other, [{ sha256: a, size: 1, verified: true }]);
        expect(await store.blobIndex.condemnBlobs(team, [{ sha256: a, size: 1 }], at(1))).toEqual([a]);
        expect((await store.blobIndex.findBlobs(other, [a])).get(a)).toStrictEqual({
          sha256: a,
          size: 1,
          verified: true,
        });
        expect(await store.blobIndex.beginBlobDelete(other, a, at(1))).toBe(false);
        expect(await store.blobIndex.beginBlobDelete(team, a, at(1))).toBe(true);
        expect((await store.blobIndex.findBlobs(other, [a])).has(a)).toBe(true);
        await store.blobIndex.putBlobs(other, [{ sha256: a, size: 1, verified: true }]); // no conflict in the other team
        await store.blobIndex.condemnBlobs(other, [{ sha256: b, size: 2 }], at(2));
        expect((await store.blobIndex.listBlobs(team, { limit: 10 })).map((r) => r.sha256)).toEqual([a]);
        expect((await store.blobIndex.listBlobs(other, { limit: 10 })).map((r) => r.sha256)).toEqual(sorted([a, b]));
        await store.blobIndex.finishBlobDelete(other, a); // not deleting there
        await store.blobIndex.finishBlobDelete(team, a);
        expect(await store.blobIndex.listBlobs(team, { limit: 10 })).toEqual([]);
        expect((await stored(other)).get(a)).toMatchObject({ deleting: false, verified: true });
      });

      it('putBlobs (a commit rescuing the blob) racing beginBlobDelete from two handles: never both succeed', async () => {
        const second = h.another ? await h.another() : store;
        const outcomes = { deleted: 0, rescued: 0 };
        for (let round = 0; round < 12; round++) {
          const sha = sha256(uid('race'));
          const when = at(round);
          await store.blobIndex.putBlobs(team, [{ sha256: sha, size: 5, verified: false }]);
          expect(await store.blobIndex.condemnBlobs(team, [{ sha256: sha, size: 5 }], when)).toEqual([sha]);
          // Alternate which handle does what, and which call starts first.
          const [putter, deleter] = round % 2 ? [store, second] : [second, store];
          const put = () => putter.blobIndex.putBlobs(team, [{ sha256: sha, size: 5, verified: true }]);
          const begin = () => deleter.blobIndex.beginBlobDelete(team, sha, when);
          const [p, d] =
            round % 4 < 2
              ? await Promise.allSettled([put(), begin()])
              : await Promise.allSettled([begin(), put()]).then(([x, y]) => [y, x] as const);
          if (d.status !== 'fulfilled') throw d.reason;
          const rec = (await store.blobIndex.listBlobs(team, { after: sha.slice(0, -1), limit: 1 }))[0];
          expect(rec?.sha256).toBe(sha);
          if (d.value) {
            // The delete won: the commit was refused and the record stays condemned and deleting.
            expect(p.status).toBe('rejected');
            if (p.status === 'rejected') {
              expect((p.reason as { code?: string }).code).toBe('E_CONFLICT');
              expect((p.reason as { details?: { deleting?: unknown } }).details?.deleting).toEqual([sha]);
            }
            expect(rec).toMatchObject({ deleting: true, condemnedAt: when, verified: false });
            outcomes.deleted++;
          } else {
            // The commit won: the record is rescued (no condemnedAt) and not deleting.
            if (p.status === 'rejected') throw p.reason;
            expect(rec).toMatchObject({ deleting: false, verified: true });
            expect(rec?.condemnedAt).toBeUndefined();
            expect((await store.blobIndex.findBlobs(team, [sha])).get(sha)).toStrictEqual({
              sha256: sha,
              size: 5,
              verified: true,
            });
            outcomes.rescued++;
          }
        }
        expect(outcomes.deleted + outcomes.rescued).toBe(12);
      }, 60_000);
    });
  });
}
