/**
 * The exclusive transitions of the metadata ports, pinned by races that force the bad interleaving: N racers act on
 * one record at once, each on its own connection or client, and where an adapter awaits between its read and its
 * compare-and-set (Firestore) the harness slows that read, so every racer reads before any of them writes. Exactly
 * one may win each transition: a version number is taken once, a version deleted once; a condemned blob is either
 * rescued or deleted.
 * SQLite runs each port call as one synchronous statement or IMMEDIATE transaction, so there the racers interleave
 * only between calls (alternated per round); the same assertions then pin the compare (the WHERE of the
 * compare-and-set).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStudioError } from '../../src/contract/errors.ts';
import type { MetadataPorts } from '../../src/core/ports.ts';
import { at, commit, experiment, sha256, uid } from './fixtures.ts';

export interface StoreRaceHarness {
  /** Ports for setup and checks (no slowdown). */
  stores: MetadataPorts;
  /** `n` independent handles on the same data (connections, clients) whose reads are slowed where they can be. */
  racers(n: number): Promise<MetadataPorts[]>;
  cleanup(): Promise<void>;
}

const N = 5;
const ROUNDS = 6;

export function testStoreRaces(opts: { name: string; make: () => Promise<StoreRaceHarness> }): void {
  describe(`exclusive metadata transitions under forced races: ${opts.name}`, () => {
    let h: StoreRaceHarness;
    let racers: MetadataPorts[];
    let team: string;
    beforeAll(async () => {
      h = await opts.make();
      racers = await h.racers(N);
      team = uid('team-race');
    }, 60_000);
    afterAll(async () => {
      await h?.cleanup();
    });
    const racer = (i: number) => racers[i % N] as MetadataPorts;

    it(`${N} concurrent commits of different manifests to one tag: versions 1..${N}, each exactly once`, async () => {
      const key = uid('exp');
      await h.stores.experiments.createExperiment(experiment(team, key));
      const got = await Promise.all(
        racers.map((r, i) => r.experiments.commitVersion(commit(team, key, 'out', `m${i}`, { createdAt: at(i) }))),
      );
      expect(got.every((g) => g.created)).toBe(true);
      expect(got.map((g) => g.version.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5]);
      const listed = await h.stores.experiments.listVersions(team, key, 'out');
      expect(listed.map((v) => v.version)).toEqual([1, 2, 3, 4, 5]);
      // Each manifest got exactly the number its commit answered (no version overwritten by a racer).
      for (const g of got) {
        expect(listed.find((v) => v.version === g.version.version)?.digest).toBe(g.version.digest);
      }
      expect((await h.stores.experiments.listArtifacts(team, key))[0]?.latestVersion).toBe(N);
    }, 60_000);

    it(`${N} concurrent commits of the same manifest to one tag: one version, created once`, async () => {
      const key = uid('exp');
      await h.stores.experiments.createExperiment(experiment(team, key));
      const got = await Promise.all(racers.map((r) => r.experiments.commitVersion(commit(team, key, 'out', 'same'))));
      expect(got.filter((g) => g.created)).toHaveLength(1);
      expect(new Set(got.map((g) => g.version.version))).toEqual(new Set([1]));
      expect((await h.stores.experiments.listVersions(team, key, 'out')).map((v) => v.version)).toEqual([1]);
    }, 60_000);

    it(`${N} concurrent deleteVersions naming the same versions: each version deleted by exactly one caller`, async () => {
      const key = uid('exp');
      await h.stores.experiments.createExperiment(experiment(team, key));
      for (let i = 1; i <= 7; i++) {
        await h.stores.experiments.commitVersion(commit(team, key, 'out', `v${i}`, { createdAt: at(i) }));
      }
      // Racers name overlapping sets (each version named by at least two of them).
      const sets = [
        [1, 2, 3, 4, 5, 6],
        [6, 5, 4, 3, 2, 1],
        [1, 3, 5],
        [2, 4, 6],
        [1, 2, 3, 4, 5, 6],
      ];
      const got = await Promise.all(
        racers.map((r, i) => r.experiments.deleteVersions(team, key, 'out', sets[i % sets.length] as number[])),
      );
      expect(got.flat().sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
      for (const [i, g] of got.entries()) expect(g.every((v) => sets[i % sets.length]?.includes(v))).toBe(true);
      expect((await h.stores.experiments.listVersions(team, key, 'out')).map((v) => v.version)).toEqual([7]);
    }, 60_000);

    it(`${N} concurrent deleteExperiment of one experiment: exactly one deletes it, the others E_NOT_FOUND`, async () => {
      const key = uid('exp');
      await h.stores.experiments.createExperiment(experiment(team, key));
      for (let i = 1; i <= 3; i++) {
        await h.stores.experiments.commitVersion(commit(team, key, 'out', `v${i}`, { createdAt: at(i) }));
      }
      const got = await Promise.allSettled(racers.map((r) => r.experiments.deleteExperiment(team, key)));
      const won = got.filter((g) => g.status === 'fulfilled');
      expect(won).toEqual([{ status: 'fulfilled', value: { artifacts: 1, versions: 3 } }]);
      for (const g of got) {
        if (g.status === 'rejected') expect(isStudioError(g.reason, 'E_NOT_FOUND'), String(g.reason)).toBe(true);
      }
      expect(await h.stores.experiments.getExperiment(team, key)).toBeNull();
    }, 60_000);

    it(`deleteVersions naming the next number racing the commit that makes it, ${ROUNDS} rounds: the latest stays`, async () => {
      const key = uid('exp');
      await h.stores.experiments.createExperiment(experiment(team, key));
      await h.stores.experiments.commitVersion(commit(team, key, 'out', 'v1', { createdAt: at(1) }));
      for (let round = 0; round < ROUNDS; round++) {
        const next = round + 2;
        // The deleter reads the artifact (latest = next - 1, so `next` is no latest to it) before the commit lands.
        const [deleted, committed] = await Promise.allSettled([
          racer(round).experiments.deleteVersions(team, key, 'out', [next]),
          h.stores.experiments.commitVersion(commit(team, key, 'out', `v${next}`, { createdAt: at(next) })),
        ]);
        expect(committed).toMatchObject({ status: 'fulfilled', value: { created: true, version: { version: next } } });
        // Skipped (not there yet) or refused (the latest): never deleted.
        if (deleted.status === 'fulfilled') expect(deleted.value).toEqual([]);
        else expect(isStudioError(deleted.reason, 'E_CONFLICT')).toBe(true);
        expect((await h.stores.experiments.getVersion(team, key, 'out'))?.version).toBe(next);
        expect((await h.stores.experiments.getVersion(team, key, 'out', next))?.version).toBe(next);
      }
    }, 60_000);

    /** A fresh blob record condemned at `when`. */
    async function condemned(when: string): Promise<string> {
      const sha = sha256(uid('blob'));
      await h.stores.blobIndex.putBlobs(team, [{ sha256: sha, size: 5, verified: true }]);
      expect(await h.stores.blobIndex.condemnBlobs(team, [{ sha256: sha, size: 5 }], when)).toEqual([sha]);
      return sha;
    }

    it(`GC rescue (absolveBlobs) racing beginBlobDelete on one condemned blob, ${ROUNDS} rounds: never both`, async () => {
      const outcomes = new Set<string>();
      for (let round = 0; round < ROUNDS; round++) {
        const when = at(1000 + round);
        const sha = await condemned(when);
        const [rescuer, deleter] = [racer(round), racer(round + 1)];
        const absolve = () => rescuer.blobIndex.absolveBlobs(team, [sha]);
        const begin = () => deleter.blobIndex.beginBlobDelete(team, sha, when);
        // Alternate which call starts first.
        const began =
          round % 2 ? (await Promise.all([begin(), absolve()]))[0] : (await Promise.all([absolve(), begin()]))[1];
        const [rec] = (await h.stores.blobIndex.listBlobs(team, { after: sha.slice(0, -1), limit: 1 })).filter(
          (r) => r.sha256 === sha,
        );
        if (began) {
          // Deleted: the rescue must not have landed on a record the GC run now deletes.
          expect(rec).toMatchObject({ deleting: true, condemnedAt: when });
          expect((await h.stores.blobIndex.findBlobs(team, [sha])).size).toBe(0);
        } else {
          // Rescued: the record is live and no longer condemned.
          expect(rec?.deleting).toBe(false);
          expect(rec?.condemnedAt).toBeUndefined();
        }
        outcomes.add(began ? 'deleted' : 'rescued');
      }
      expect(outcomes.size).toBeGreaterThan(0);
    }, 60_000);

    it(`a commit re-recording a condemned blob (putBlobs) racing beginBlobDelete, ${ROUNDS} rounds: exactly one wins`, async () => {
      for (let round = 0; round < ROUNDS; round++) {
        const when = at(2000 + round);
        const sha = await condemned(when);
        const [putter, deleter] = [racer(round + 2), racer(round + 3)];
        const put = () => putter.blobIndex.putBlobs(team, [{ sha256: sha, size: 5, verified: true }]);
        const begin = () => deleter.blobIndex.beginBlobDelete(team, sha, when);
        const [p, b] =
          round % 2
            ? await Promise.allSettled([put(), begin()])
            : ((await Promise.allSettled([begin(), put()])).reverse() as [
                PromiseSettledResult<void>,
                PromiseSettledResult<boolean>,
              ]);
        const deleted = b.status === 'fulfilled' && b.value === true;
        const rescued = p.status === 'fulfilled';
        expect(deleted !== rescued, `round ${round}: put ${p.status}, begin ${JSON.stringify(b)}`).toBe(true);
        if (!rescued) expect(isStudioError((p as PromiseRejectedResult).reason, 'E_CONFLICT')).toBe(true);
        const found = (await h.stores.blobIndex.findBlobs(team, [sha])).get(sha);
        if (rescued) expect(found).toEqual({ sha256: sha, size: 5, verified: true });
        else expect(found).toBeUndefined();
      }
    }, 60_000);
  });
}
