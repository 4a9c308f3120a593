import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AliasRecord, AliasStore } from '../../src/core/alias-store.ts';
import { at, uid } from './fixtures.ts';

export interface AliasStoreHarness {
  store: AliasStore;
  /** A second handle on the same data (another process / client), for races. */
  another(): Promise<AliasStore>;
  cleanup(): Promise<void>;
}

export interface AliasStoreSuiteOptions {
  name: string;
  /** A fresh store per test (it may share a backend: every test uses its own team ids). */
  make: () => Promise<AliasStoreHarness>;
}

/** The AliasStore port contract (core/alias-store.ts), run against every adapter. */
export function testAliasStore(opts: AliasStoreSuiteOptions): void {
  describe(`AliasStore conformance: ${opts.name}`, () => {
    let h: AliasStoreHarness;
    let s: AliasStore;
    let team: string;
    const rec = (over: Partial<AliasRecord> = {}): AliasRecord => ({
      team,
      experiment: 'exp.1',
      tag: 'weights',
      name: 'best',
      version: 1,
      updatedAt: at(1),
      updatedBy: 'alice',
      ...over,
    });

    beforeEach(async () => {
      h = await opts.make();
      s = h.store;
      team = uid('team');
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('sets an alias (previous null), reads it back, moves it (previous = the old version)', async () => {
      expect(await s.getAlias(team, 'exp.1', 'weights', 'best')).toBeNull();
      expect(await s.setAlias(rec())).toEqual({ previous: null });
      expect(await s.getAlias(team, 'exp.1', 'weights', 'best')).toEqual(rec());
      expect(await s.setAlias(rec({ version: 3, updatedAt: at(2), updatedBy: 'bob' }))).toEqual({ previous: 1 });
      expect(await s.getAlias(team, 'exp.1', 'weights', 'best')).toEqual(
        rec({ version: 3, updatedAt: at(2), updatedBy: 'bob' }),
      );
      // Setting it to the version it already names is still a write that reports that version.
      expect(await s.setAlias(rec({ version: 3 }))).toEqual({ previous: 3 });
    });

    it('lists one artifact by name, or the whole experiment by tag then name; other artifacts and teams apart', async () => {
      await s.setAlias(rec({ name: 'prod', version: 2 }));
      await s.setAlias(rec({ name: 'best', version: 1 }));
      await s.setAlias(rec({ tag: 'model', name: 'a', version: 5 }));
      await s.setAlias(rec({ experiment: 'exp.2', name: 'best', version: 9 }));
      await s.setAlias(rec({ team: uid('other'), name: 'zzz' }));
      expect((await s.listAliases(team, 'exp.1', 'weights')).map((a) => [a.name, a.version])).toEqual([
        ['best', 1],
        ['prod', 2],
      ]);
      expect((await s.listAliases(team, 'exp.1')).map((a) => `${a.tag}@${a.name}`)).toEqual([
        'model@a',
        'weights@best',
        'weights@prod',
      ]);
      expect(await s.listAliases(team, 'exp.1', 'nosuch')).toEqual([]);
      expect(await s.listAliases(team, 'nosuch')).toEqual([]);
      expect(await s.getAlias(team, 'exp.1', 'weights', 'zzz')).toBeNull();
    });

    it('deletes one alias (returning it) and answers null for one that is not there', async () => {
      await s.setAlias(rec({ version: 4 }));
      await s.setAlias(rec({ name: 'keep' }));
      expect(await s.deleteAlias(team, 'exp.1', 'weights', 'best')).toEqual(rec({ version: 4 }));
      expect(await s.deleteAlias(team, 'exp.1', 'weights', 'best')).toBeNull();
      expect(await s.getAlias(team, 'exp.1', 'weights', 'best')).toBeNull();
      expect((await s.listAliases(team, 'exp.1', 'weights')).map((a) => a.name)).toEqual(['keep']);
      // Deleted and set again: new, so previous is null.
      expect(await s.setAlias(rec({ version: 2 }))).toEqual({ previous: null });
    });

    it("a deleted experiment's aliases go, every artifact's; other experiments keep theirs", async () => {
      await s.setAlias(rec());
      await s.setAlias(rec({ tag: 'model', name: 'prod' }));
      await s.setAlias(rec({ experiment: 'exp.2' }));
      expect(await s.deleteExperimentAliases(team, 'exp.1')).toBe(2);
      expect(await s.listAliases(team, 'exp.1')).toEqual([]);
      expect(await s.getAlias(team, 'exp.1', 'weights', 'best')).toBeNull();
      expect((await s.listAliases(team, 'exp.2')).map((a) => a.name)).toEqual(['best']);
      expect(await s.deleteExperimentAliases(team, 'exp.1')).toBe(0);
    });

    it('concurrent moves from two handles: last writer wins and each learns exactly the version it replaced', async () => {
      const other = await h.another();
      const n = 12;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          (i % 2 ? other : s).setAlias(rec({ version: i + 1, updatedAt: at(i) })).then((r) => ({ ...r, to: i + 1 })),
        ),
      );
      const final = await s.getAlias(team, 'exp.1', 'weights', 'best');
      expect(final).not.toBeNull();
      // The moves form one chain: exactly one started from nothing, every other replaced a version that some move
      // wrote, each such version was replaced exactly once, and the one never replaced is the final state.
      const previous = results.map((r) => r.previous);
      expect(previous.filter((v) => v === null)).toHaveLength(1);
      const replaced = previous.filter((v): v is number => v !== null).sort((a, b) => a - b);
      const expected = results
        .map((r) => r.to)
        .filter((v) => v !== final?.version)
        .sort((a, b) => a - b);
      expect(replaced).toEqual(expected);
    });
  });
}
