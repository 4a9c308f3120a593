import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { RetentionPolicy } from '../../src/contract/model.ts';
import type { RetentionStore } from '../../src/core/ports.ts';
import { at, expectCode, uid } from './fixtures.ts';

export interface RetentionStoreHarness {
  store: RetentionStore;
  /** A second handle on the same data (another process / client), for races. */
  another(): Promise<RetentionStore>;
  cleanup(): Promise<void>;
}

export interface RetentionStoreSuiteOptions {
  name: string;
  /** A fresh store per test (it may share a backend: every test uses its own team ids). */
  make: () => Promise<RetentionStoreHarness>;
}

/** The RetentionStore port contract (core/ports/retention-store.ts), run against every adapter. */
export function testRetentionStore(opts: RetentionStoreSuiteOptions): void {
  describe(`RetentionStore conformance: ${opts.name}`, () => {
    let h: RetentionStoreHarness;
    let s: RetentionStore;
    let team: string;
    const policy = (over: Partial<RetentionPolicy> = {}): RetentionPolicy => ({
      team,
      project: null,
      keepLast: 5,
      keepEvery: null,
      keepWithinHours: 24,
      keepHourly: null,
      keepDaily: 7,
      expireDays: null,
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

    it('sets a policy, reads it back, and a set replaces the whole policy', async () => {
      expect(await s.getPolicy(team, null)).toBeNull();
      await s.setPolicy(policy());
      expect(await s.getPolicy(team, null)).toEqual(policy());
      const replaced = policy({
        keepLast: null,
        keepEvery: 10,
        keepWithinHours: null,
        keepHourly: 48,
        keepDaily: null,
        expireDays: 90,
        updatedAt: at(2),
        updatedBy: 'bob',
      });
      await s.setPolicy(replaced);
      expect(await s.getPolicy(team, null)).toEqual(replaced);
      // Every rule off is a policy too (not the absence of one).
      const off = policy({ keepLast: null, keepWithinHours: null, keepDaily: null, updatedAt: at(3) });
      await s.setPolicy(off);
      expect(await s.getPolicy(team, null)).toEqual(off);
      expect(await s.listPolicies(team)).toEqual([off]);
    });

    it("the team's policy and project policies are kept apart, and teams from each other", async () => {
      const other = uid('other');
      await s.setPolicy(policy({ keepLast: 1 }));
      await s.setPolicy(policy({ project: 'vision', keepLast: 2 }));
      await s.setPolicy(policy({ project: 'nlp', keepLast: 3 }));
      await s.setPolicy(policy({ team: other, project: 'vision', keepLast: 4 }));
      expect((await s.getPolicy(team, null))?.keepLast).toBe(1);
      expect(await s.getPolicy(team, 'vision')).toEqual(policy({ project: 'vision', keepLast: 2 }));
      expect((await s.getPolicy(team, 'nlp'))?.keepLast).toBe(3);
      expect(await s.getPolicy(other, 'vision')).toEqual(policy({ team: other, project: 'vision', keepLast: 4 }));
      expect(await s.getPolicy(other, null)).toBeNull();
      expect(await s.getPolicy(team, 'audio')).toBeNull();
      // Replacing a project's policy leaves the team's alone, and the other way round.
      await s.setPolicy(policy({ project: 'vision', keepLast: 20 }));
      await s.setPolicy(policy({ keepLast: 10 }));
      expect((await s.getPolicy(team, null))?.keepLast).toBe(10);
      expect((await s.getPolicy(team, 'vision'))?.keepLast).toBe(20);
      expect((await s.getPolicy(team, 'nlp'))?.keepLast).toBe(3);
      expect((await s.getPolicy(other, 'vision'))?.keepLast).toBe(4);
    });

    it('listPolicies: the team policy first, then by project; only this team', async () => {
      expect(await s.listPolicies(team)).toEqual([]);
      for (const project of ['zeta', 'alpha', 'Beta', 'alpha.2', 'a']) await s.setPolicy(policy({ project }));
      await s.setPolicy(policy({ team: uid('other'), project: 'aaa' }));
      expect((await s.listPolicies(team)).map((p) => p.project)).toEqual(['Beta', 'a', 'alpha', 'alpha.2', 'zeta']);
      await s.setPolicy(policy({ keepLast: 9 }));
      const listed = await s.listPolicies(team);
      expect(listed.map((p) => p.project)).toEqual([null, 'Beta', 'a', 'alpha', 'alpha.2', 'zeta']);
      expect(listed[0]).toEqual(policy({ keepLast: 9 }));
      expect(listed.every((p) => p.team === team)).toBe(true);
      expect(await s.listPolicies(uid('nobody'))).toEqual([]);
    });

    it('deletePolicy returns the removed policy, then null; the others stay', async () => {
      await s.setPolicy(policy({ keepLast: 1 }));
      await s.setPolicy(policy({ project: 'vision', keepLast: 2 }));
      expect(await s.deletePolicy(team, 'vision')).toEqual(policy({ project: 'vision', keepLast: 2 }));
      expect(await s.deletePolicy(team, 'vision')).toBeNull();
      expect(await s.getPolicy(team, 'vision')).toBeNull();
      expect(await s.getPolicy(team, null)).toEqual(policy({ keepLast: 1 }));
      expect(await s.deletePolicy(team, 'never-set')).toBeNull();
      expect(await s.deletePolicy(uid('nobody'), null)).toBeNull();
      expect(await s.deletePolicy(team, null)).toEqual(policy({ keepLast: 1 }));
      expect(await s.deletePolicy(team, null)).toBeNull();
      expect(await s.listPolicies(team)).toEqual([]);
      // Deleted and set again.
      await s.setPolicy(policy({ project: 'vision', keepLast: 3 }));
      expect(await s.listPolicies(team)).toEqual([policy({ project: 'vision', keepLast: 3 })]);
    });

    it('teamsWithPolicies: exactly the teams with at least one policy (team or project)', async () => {
      const [byTeam, byProject, both, emptied] = [uid('t1'), uid('t2'), uid('t3'), uid('t4')];
      const mine = new Set([byTeam, byProject, both, emptied]);
      const listed = async () => (await s.teamsWithPolicies()).filter((t) => mine.has(t)).sort();
      expect(await listed()).toEqual([]);
      await s.setPolicy(policy({ team: byTeam }));
      await s.setPolicy(policy({ team: byProject, project: 'p1' }));
      await s.setPolicy(policy({ team: byProject, project: 'p2' }));
      await s.setPolicy(policy({ team: both }));
      await s.setPolicy(policy({ team: both, project: 'p1' }));
      await s.setPolicy(policy({ team: emptied, project: 'p1' }));
      expect(await listed()).toEqual([byTeam, byProject, both, emptied].sort());
      // Each team once, however many policies it has.
      const all = await s.teamsWithPolicies();
      expect(all.filter((t) => t === byProject)).toHaveLength(1);
      await s.deletePolicy(emptied, 'p1');
      await s.deletePolicy(both, null);
      expect(await listed()).toEqual([byTeam, byProject, both].sort());
    });

    it('odd but valid project names round-trip: spaces, dots, unicode', async () => {
      const names = ['my project', 'a.b.c', '.', '..', '...', 'café', 'Ünïcode 名前 🚀', '__x__', 'p_', '-'];
      for (const [i, project] of names.entries()) await s.setPolicy(policy({ project, keepLast: i + 1 }));
      for (const [i, project] of names.entries()) {
        expect(await s.getPolicy(team, project)).toEqual(policy({ project, keepLast: i + 1 }));
      }
      const listed = await s.listPolicies(team);
      expect(listed.map((p) => p.project)).toEqual([...names].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)));
      expect(await s.getPolicy(team, null)).toBeNull();
      expect(await s.deletePolicy(team, 'Ünïcode 名前 🚀')).toEqual(
        policy({ project: 'Ünïcode 名前 🚀', keepLast: names.indexOf('Ünïcode 名前 🚀') + 1 }),
      );
      expect(await s.getPolicy(team, 'Ünïcode 名前 🚀')).toBeNull();
      // NFC and NFD spellings are different names to the store (names are compared as given).
      expect(await s.getPolicy(team, 'cafe\u0301')).toBeNull();
    });

    it('no project name collides with the team policy (the adapters’ team markers included)', async () => {
      await s.setPolicy(policy({ keepLast: 1 }));
      // Names like the markers the adapters use for the team's own policy (SQLite '', Firestore `_team`).
      for (const [i, project] of ['_team', 'p__team', 'null', 'team', 'p_'].entries()) {
        await s.setPolicy(policy({ project, keepLast: 100 + i }));
        expect((await s.getPolicy(team, project))?.keepLast).toBe(100 + i);
        expect(await s.getPolicy(team, null)).toEqual(policy({ keepLast: 1 }));
      }
      expect((await s.listPolicies(team)).map((p) => [p.project, p.keepLast])).toEqual([
        [null, 1],
        ['_team', 100],
        ['null', 102],
        ['p_', 104],
        ['p__team', 101],
        ['team', 103],
      ]);
      expect(await s.deletePolicy(team, '_team')).toMatchObject({ project: '_team', keepLast: 100 });
      expect(await s.getPolicy(team, null)).toEqual(policy({ keepLast: 1 }));
      expect(await s.deletePolicy(team, null)).toEqual(policy({ keepLast: 1 }));
      expect((await s.getPolicy(team, 'p__team'))?.keepLast).toBe(101);
      // No project is named '' (names are non-empty): it is refused, never read as the team's own policy.
      await s.setPolicy(policy({ keepLast: 2 }));
      await expectCode(s.setPolicy(policy({ project: '', keepLast: 3 })), 'E_BAD_REQUEST');
      expect(await s.getPolicy(team, '')).toBeNull();
      expect(await s.deletePolicy(team, '')).toBeNull();
      expect(await s.getPolicy(team, null)).toEqual(policy({ keepLast: 2 }));
    });

    it('concurrent deletes of one policy from two handles: exactly one gets it', async () => {
      const other = await h.another();
      for (let round = 0; round < 3; round++) {
        await s.setPolicy(policy({ project: 'vision', keepLast: round + 1 }));
        const got = await Promise.all(
          Array.from({ length: 6 }, (_, i) => (i % 2 ? other : s).deletePolicy(team, 'vision')),
        );
        expect(got.filter((p) => p !== null)).toEqual([policy({ project: 'vision', keepLast: round + 1 })]);
        expect(await s.getPolicy(team, 'vision')).toBeNull();
      }
    });
  });
}
