import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetadataPorts } from '../../src/core/ports.ts';
import { testBlobCondemnation } from './blob-gc-condemn-suite.ts';
import { testBlobDeletion } from './blob-gc-delete-suite.ts';
import { sha256, uid } from './fixtures.ts';
import type { MetadataHarness, MetadataSuiteOptions } from './metadata-harness.ts';

/** The BlobIndex port contract (core/ports/), run against every adapter; setup may use the other metadata ports. */
export function testBlobIndex(opts: MetadataSuiteOptions): void {
  describe(`BlobIndex conformance: ${opts.name}`, () => {
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

    describe('blobs', () => {
      const a = sha256('blob a');
      const b = sha256('blob b');
      const c = sha256('blob c');

      it('records where a packed blob lives; findBlobs and listBlobs return it, loose blobs have no pack', async () => {
        const packId = sha256('pack 1');
        await store.blobIndex.putBlobs(team, [
          { sha256: a, size: 10, verified: true, pack: { id: packId, offset: 0 } },
          { sha256: b, size: 20, verified: true, pack: { id: packId, offset: 10 } },
          { sha256: c, size: 30, verified: true },
        ]);
        const found = await store.blobIndex.findBlobs(team, [a, b, c]);
        expect(found.get(a)).toEqual({ sha256: a, size: 10, verified: true, pack: { id: packId, offset: 0 } });
        expect(found.get(b)?.pack).toEqual({ id: packId, offset: 10 });
        expect(found.get(c)?.pack).toBeUndefined();
        const listed = await store.blobIndex.listBlobs(team, { limit: 10 });
        expect(listed.find((r) => r.sha256 === b)?.pack).toEqual({ id: packId, offset: 10 });
      });

      it('a verified record keeps its place; an unverified one takes the place of whoever verifies it', async () => {
        const first = sha256('pack first');
        const second = sha256('pack second');
        await store.blobIndex.putBlobs(team, [
          { sha256: a, size: 10, verified: true, pack: { id: first, offset: 5 } },
          { sha256: b, size: 20, verified: false },
        ]);
        await store.blobIndex.putBlobs(team, [
          { sha256: a, size: 10, verified: true, pack: { id: second, offset: 0 } },
          { sha256: b, size: 20, verified: true, pack: { id: second, offset: 10 } },
        ]);
        const found = await store.blobIndex.findBlobs(team, [a, b]);
        expect(found.get(a)?.pack).toEqual({ id: first, offset: 5 });
        expect(found.get(b)).toEqual({ sha256: b, size: 20, verified: true, pack: { id: second, offset: 10 } });
        // Recording a loose copy later (an upload of its own) does not move a packed blob either.
        await store.blobIndex.putBlobs(team, [{ sha256: a, size: 10, verified: true }]);
        expect((await store.blobIndex.findBlobs(team, [a])).get(a)?.pack).toEqual({ id: first, offset: 5 });
      });

      it('movePackedBlobs moves only records still at their old place and not being deleted', async () => {
        const [p1, p2] = [sha256('pack move 1'), sha256('pack move 2')];
        await store.blobIndex.putBlobs(team, [
          { sha256: a, size: 10, verified: true, pack: { id: p1, offset: 0 } },
          { sha256: b, size: 20, verified: true, pack: { id: p1, offset: 10 } },
          { sha256: c, size: 30, verified: true },
        ]);
        await store.blobIndex.condemnBlobs(team, [{ sha256: b, size: 20 }], '2030-01-01T00:00:00.000Z');
        expect(await store.blobIndex.beginBlobDelete(team, b, '2030-01-01T00:00:00.000Z')).toBe(true);
        const moved = await store.blobIndex.movePackedBlobs(team, [
          { sha256: a, from: { id: p1, offset: 0 }, to: { id: p2, offset: 0 } },
          { sha256: b, from: { id: p1, offset: 10 }, to: { id: p2, offset: 10 } }, // deleting: stays
          { sha256: c, from: { id: p1, offset: 20 }, to: { id: p2, offset: 20 } }, // loose: stays
        ]);
        expect(moved).toEqual([a]);
        expect((await store.blobIndex.findBlobs(team, [a])).get(a)?.pack).toEqual({ id: p2, offset: 0 });
        expect((await store.blobIndex.findBlobs(team, [c])).get(c)?.pack).toBeUndefined();
        // A second move from the old place finds nothing there any more.
        expect(
          await store.blobIndex.movePackedBlobs(team, [
            { sha256: a, from: { id: p1, offset: 0 }, to: { id: p1, offset: 5 } },
          ]),
        ).toEqual([]);
        expect(await store.blobIndex.movePackedBlobs(other, [])).toEqual([]);
      });

      it('findBlobs returns only recorded blobs; empty input gives an empty map', async () => {
        await store.blobIndex.putBlobs(team, [
          { sha256: a, size: 10, verified: false },
          { sha256: b, size: 20, verified: true },
        ]);
        const found = await store.blobIndex.findBlobs(team, [a, b, c]);
        expect(found.size).toBe(2);
        expect(found.get(a)).toEqual({ sha256: a, size: 10, verified: false });
        expect(found.get(b)).toEqual({ sha256: b, size: 20, verified: true });
        expect(found.has(c)).toBe(false);
        expect((await store.blobIndex.findBlobs(team, [])).size).toBe(0);
      });

      it('re-recording is idempotent and only upgrades verified', async () => {
        await store.blobIndex.putBlobs(team, [{ sha256: a, size: 10, verified: false }]);
        await store.blobIndex.putBlobs(team, [{ sha256: a, size: 10, verified: false }]);
        expect((await store.blobIndex.findBlobs(team, [a])).get(a)?.verified).toBe(false);
        await store.blobIndex.putBlobs(team, [{ sha256: a, size: 10, verified: true }]);
        expect((await store.blobIndex.findBlobs(team, [a])).get(a)?.verified).toBe(true);
        await store.blobIndex.putBlobs(team, [{ sha256: a, size: 10, verified: false }]);
        expect((await store.blobIndex.findBlobs(team, [a])).get(a)).toEqual({ sha256: a, size: 10, verified: true });
      });

      it('handles a large batch', async () => {
        const many = Array.from({ length: 1500 }, (_, i) => ({
          sha256: sha256(`many ${i}`),
          size: i,
          verified: i % 2 === 0,
        }));
        await store.blobIndex.putBlobs(team, many);
        const found = await store.blobIndex.findBlobs(team, [...many.map((m) => m.sha256), c]);
        expect(found.size).toBe(1500);
        expect(found.get(many[1499]?.sha256 as string)).toEqual(many[1499]);
      });

      it('teams are isolated: one team never sees another team blobs', async () => {
        await store.blobIndex.putBlobs(team, [{ sha256: a, size: 10, verified: true }]);
        expect((await store.blobIndex.findBlobs(other, [a])).size).toBe(0);
        await store.blobIndex.putBlobs(other, [{ sha256: a, size: 10, verified: false }]);
        expect((await store.blobIndex.findBlobs(other, [a])).get(a)?.verified).toBe(false);
        expect((await store.blobIndex.findBlobs(team, [a])).get(a)?.verified).toBe(true);
      });
    });
  });
  // The garbage-collection clauses run as their own blocks (blob-gc-suite.ts), with their own fresh ports.
  testBlobCondemnation(opts);
  testBlobDeletion(opts);
}
