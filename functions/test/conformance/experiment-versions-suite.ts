import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetadataPorts } from '../../src/core/ports.ts';
import { at, commit, expectCode, experiment, sha256, uid } from './fixtures.ts';
import type { MetadataHarness, MetadataSuiteOptions } from './metadata-harness.ts';

/**
 * The ExperimentStore clauses of artifact versions: commitVersion, getVersion, listArtifacts, listVersions,
 * deleteVersions.
 */
export function testExperimentVersions(opts: MetadataSuiteOptions): void {
  describe(`ExperimentStore conformance (versions): ${opts.name}`, () => {
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

    describe('artifact versions', () => {
      beforeEach(async () => {
        await store.experiments.createExperiment(experiment(team, 'exp'));
        await store.experiments.createExperiment(experiment(other, 'exp'));
      });

      it('numbers versions 1, 2, 3 and returns the committed record', async () => {
        for (const [i, content] of ['a', 'b', 'c'].entries()) {
          const input = commit(team, 'exp', 'out', content, { createdAt: at(10 + i), files: i + 1, bytes: 100 * i });
          const r = await store.experiments.commitVersion(input);
          expect(r.created).toBe(true);
          const { mutable: _m, ...fields } = input;
          expect(r.version).toEqual({ ...fields, version: i + 1 });
        }
      });

      it('the same digest as the latest version returns it with created=false and adds nothing', async () => {
        const first = await store.experiments.commitVersion(commit(team, 'exp', 'out', 'a'));
        const again = await store.experiments.commitVersion(
          commit(team, 'exp', 'out', 'a', { createdAt: at(99), createdBy: 'u2' }),
        );
        expect(again.created).toBe(false);
        expect(again.version).toEqual(first.version);
        expect(await store.experiments.listVersions(team, 'exp', 'out')).toHaveLength(1);
      });

      it('content equal to an older (not latest) version makes a new version', async () => {
        await store.experiments.commitVersion(commit(team, 'exp', 'out', 'a'));
        await store.experiments.commitVersion(commit(team, 'exp', 'out', 'b'));
        const r = await store.experiments.commitVersion(commit(team, 'exp', 'out', 'a'));
        expect(r.created).toBe(true);
        expect(r.version.version).toBe(3);
      });

      it('an immutable artifact keeps exactly one version: same digest ok, different digest E_IMMUTABLE', async () => {
        const first = await store.experiments.commitVersion(commit(team, 'exp', 'ws', 'a', { mutable: false }));
        expect(first).toMatchObject({ created: true, version: { version: 1 } });
        const same = await store.experiments.commitVersion(commit(team, 'exp', 'ws', 'a', { mutable: false }));
        expect(same).toEqual({ created: false, version: first.version });
        await expectCode(
          store.experiments.commitVersion(commit(team, 'exp', 'ws', 'b', { mutable: false })),
          'E_IMMUTABLE',
        );
        expect(await store.experiments.listVersions(team, 'exp', 'ws')).toEqual([first.version]);
      });

      it('E_CONFLICT when mutability disagrees with the existing artifact (both directions)', async () => {
        await store.experiments.commitVersion(commit(team, 'exp', 'mut', 'a', { mutable: true }));
        await expectCode(
          store.experiments.commitVersion(commit(team, 'exp', 'mut', 'b', { mutable: false })),
          'E_CONFLICT',
        );
        await store.experiments.commitVersion(commit(team, 'exp', 'imm', 'a', { mutable: false }));
        await expectCode(
          store.experiments.commitVersion(commit(team, 'exp', 'imm', 'b', { mutable: true })),
          'E_CONFLICT',
        );
        expect(await store.experiments.listVersions(team, 'exp', 'mut')).toHaveLength(1);
        expect((await store.experiments.listArtifacts(team, 'exp')).map((a) => [a.tag, a.mutable])).toEqual([
          ['imm', false],
          ['mut', true],
        ]);
      });

      it('20 concurrent commits of different digests to one tag give versions 1..20 (no lost update)', async () => {
        const second = h.another ? await h.another() : store;
        const n = 20;
        const results = await Promise.all(
          Array.from({ length: n }, (_, i) =>
            (i % 2 ? second : store).experiments.commitVersion(
              commit(team, 'exp', 'out', `c${i}`, { createdAt: at(100 + i) }),
            ),
          ),
        );
        expect(results.every((r) => r.created)).toBe(true);
        const numbers = results.map((r) => r.version.version).sort((a, b) => a - b);
        expect(numbers).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        const listed = await store.experiments.listVersions(team, 'exp', 'out');
        expect(listed.map((v) => v.version)).toEqual(numbers);
        // Each returned record is the one stored under its number.
        const byNumber = new Map(listed.map((v) => [v.version, v.digest]));
        for (const r of results) expect(byNumber.get(r.version.version)).toBe(r.version.digest);
        expect(new Set(listed.map((v) => v.digest)).size).toBe(n);
        expect((await store.experiments.getVersion(team, 'exp', 'out'))?.version).toBe(n);
        expect((await store.experiments.listArtifacts(team, 'exp'))[0]?.latestVersion).toBe(n);
      });

      it('getVersion: latest, fixed, and null for a missing version, tag or experiment', async () => {
        const v1 = (await store.experiments.commitVersion(commit(team, 'exp', 'out', 'a'))).version;
        const v2 = (await store.experiments.commitVersion(commit(team, 'exp', 'out', 'b'))).version;
        expect(await store.experiments.getVersion(team, 'exp', 'out')).toEqual(v2);
        expect(await store.experiments.getVersion(team, 'exp', 'out', 1)).toEqual(v1);
        expect(await store.experiments.getVersion(team, 'exp', 'out', 2)).toEqual(v2);
        expect(await store.experiments.getVersion(team, 'exp', 'out', 3)).toBeNull();
        expect(await store.experiments.getVersion(team, 'exp', 'other')).toBeNull();
        expect(await store.experiments.getVersion(team, 'exp', 'other', 1)).toBeNull();
        expect(await store.experiments.getVersion(team, 'nope', 'out')).toBeNull();
      });

      it('listArtifacts (by tag) and listVersions (oldest first)', async () => {
        await store.experiments.commitVersion(commit(team, 'exp', 'zeta', 'z', { createdAt: at(20) }));
        await store.experiments.commitVersion(commit(team, 'exp', 'alpha', 'a1', { createdAt: at(21) }));
        await store.experiments.commitVersion(commit(team, 'exp', 'alpha', 'a2', { createdAt: at(22) }));
        await store.experiments.commitVersion(commit(team, 'exp', 'ws', 'w', { mutable: false, createdAt: at(23) }));
        const arts = await store.experiments.listArtifacts(team, 'exp');
        expect(arts.map((a) => a.tag)).toEqual(['alpha', 'ws', 'zeta']);
        expect(arts[0]).toMatchObject({ team, experiment: 'exp', tag: 'alpha', mutable: true, latestVersion: 2 });
        expect(arts[1]).toMatchObject({ tag: 'ws', mutable: false, latestVersion: 1 });
        expect(Date.parse(arts[0]?.createdAt ?? '')).not.toBeNaN();
        expect(Date.parse(arts[0]?.updatedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(arts[0]?.createdAt ?? ''));
        const versions = await store.experiments.listVersions(team, 'exp', 'alpha');
        expect(versions.map((v) => [v.version, v.digest])).toEqual([
          [1, sha256('digest:a1')],
          [2, sha256('digest:a2')],
        ]);
        expect(await store.experiments.listVersions(team, 'exp', 'missing')).toEqual([]);
        expect(await store.experiments.listArtifacts(team, 'missing')).toEqual([]);
      });

      it('teams are isolated: versions, artifacts and numbering are per team', async () => {
        await store.experiments.commitVersion(commit(team, 'exp', 'out', 'a'));
        await store.experiments.commitVersion(commit(team, 'exp', 'out', 'b'));
        await store.experiments.commitVersion(commit(team, 'exp', 'ws', 'w', { mutable: false }));
        expect(await store.experiments.getVersion(other, 'exp', 'out')).toBeNull();
        expect(await store.experiments.getVersion(other, 'exp', 'out', 1)).toBeNull();
        expect(await store.experiments.listArtifacts(other, 'exp')).toEqual([]);
        expect(await store.experiments.listVersions(other, 'exp', 'out')).toEqual([]);
        // Same tag in the other team starts at 1 and may even differ in mutability.
        const r = await store.experiments.commitVersion(commit(other, 'exp', 'out', 'b', { mutable: false }));
        expect(r).toMatchObject({ created: true, version: { team: other, version: 1 } });
        const w = await store.experiments.commitVersion(
          commit(other, 'exp', 'ws', 'other-content', { mutable: false }),
        );
        expect(w.created).toBe(true);
        expect((await store.experiments.getVersion(team, 'exp', 'out'))?.version).toBe(2);
      });
    });

    describe('deleteVersions (retention)', () => {
      const sorted = (v: number[]) => [...v].sort((a, b) => a - b);
      const numbers = async (t = team, tag = 'out') =>
        (await store.experiments.listVersions(t, 'exp', tag)).map((v) => v.version);
      /** Versions 1..n of `tag` with distinct content. */
      async function versions(n: number, tag = 'out', t = team): Promise<void> {
        for (let i = 1; i <= n; i++) {
          await store.experiments.commitVersion(commit(t, 'exp', tag, `${tag}-${i}`, { createdAt: at(i) }));
        }
      }

      beforeEach(async () => {
        await store.experiments.createExperiment(experiment(team, 'exp'));
        await store.experiments.createExperiment(experiment(other, 'exp'));
      });

      it('deletes exactly the named versions and returns them; other tags and teams untouched', async () => {
        await versions(5);
        await versions(3, 'side');
        await versions(3, 'out', other);
        const before = await store.experiments.listVersions(team, 'exp', 'out');
        expect(sorted(await store.experiments.deleteVersions(team, 'exp', 'out', [2, 4]))).toEqual([2, 4]);
        expect(await numbers()).toEqual([1, 3, 5]);
        // What is left is unchanged, record for record.
        expect(await store.experiments.listVersions(team, 'exp', 'out')).toEqual(
          before.filter((v) => v.version % 2 === 1),
        );
        expect(await numbers(team, 'side')).toEqual([1, 2, 3]);
        expect(await numbers(other)).toEqual([1, 2, 3]);
        // The artifact and its latest pointer stay.
        const [art] = (await store.experiments.listArtifacts(team, 'exp')).filter((a) => a.tag === 'out');
        expect(art?.latestVersion).toBe(5);
        expect((await store.experiments.getVersion(team, 'exp', 'out'))?.version).toBe(5);
        // Nothing named: nothing deleted.
        expect(await store.experiments.deleteVersions(team, 'exp', 'out', [])).toEqual([]);
        expect(await numbers()).toEqual([1, 3, 5]);
      });

      it('naming the latest version is E_CONFLICT and deletes nothing, not even the others named', async () => {
        await versions(4);
        await expectCode(store.experiments.deleteVersions(team, 'exp', 'out', [1, 2, 4]), 'E_CONFLICT');
        await expectCode(store.experiments.deleteVersions(team, 'exp', 'out', [4]), 'E_CONFLICT');
        expect(await numbers()).toEqual([1, 2, 3, 4]);
        // An immutable artifact's only version is its latest.
        await store.experiments.commitVersion(commit(team, 'exp', 'ws', 'w', { mutable: false }));
        await expectCode(store.experiments.deleteVersions(team, 'exp', 'ws', [1]), 'E_CONFLICT');
        expect(await numbers(team, 'ws')).toEqual([1]);
      });

      it('a version already deleted (or never made) is skipped; a number named twice is deleted once', async () => {
        await versions(5);
        expect(await store.experiments.deleteVersions(team, 'exp', 'out', [2])).toEqual([2]);
        expect(sorted(await store.experiments.deleteVersions(team, 'exp', 'out', [2, 3]))).toEqual([3]);
        expect(await store.experiments.deleteVersions(team, 'exp', 'out', [2, 3])).toEqual([]);
        expect(await store.experiments.deleteVersions(team, 'exp', 'out', [1, 1, 1])).toEqual([1]);
        expect(await store.experiments.deleteVersions(team, 'exp', 'out', [9])).toEqual([]);
        expect(await numbers()).toEqual([4, 5]);
      });

      it('an unknown artifact, experiment or team deletes nothing and answers []', async () => {
        await versions(3);
        expect(await store.experiments.deleteVersions(team, 'exp', 'nosuch', [1])).toEqual([]);
        expect(await store.experiments.deleteVersions(team, 'nope', 'out', [1])).toEqual([]);
        expect(await store.experiments.deleteVersions(uid('nobody'), 'exp', 'out', [1])).toEqual([]);
        expect(await store.experiments.deleteVersions(other, 'exp', 'out', [1, 2])).toEqual([]);
        expect(await numbers()).toEqual([1, 2, 3]);
        // A deleted experiment's versions are gone with it: nothing left to delete.
        await store.experiments.deleteExperiment(team, 'exp');
        expect(await store.experiments.deleteVersions(team, 'exp', 'out', [1])).toEqual([]);
      });

      it('getVersion and listVersions no longer see deleted versions', async () => {
        await versions(4);
        const v3 = await store.experiments.getVersion(team, 'exp', 'out', 3);
        expect(sorted(await store.experiments.deleteVersions(team, 'exp', 'out', [1, 2]))).toEqual([1, 2]);
        expect(await store.experiments.getVersion(team, 'exp', 'out', 1)).toBeNull();
        expect(await store.experiments.getVersion(team, 'exp', 'out', 2)).toBeNull();
        expect(await store.experiments.getVersion(team, 'exp', 'out', 3)).toEqual(v3);
        expect((await store.experiments.getVersion(team, 'exp', 'out'))?.version).toBe(4);
        expect(await numbers()).toEqual([3, 4]);
      });

      it('a commit after deletes gets latest + 1: numbers are never reused', async () => {
        await versions(3);
        expect(sorted(await store.experiments.deleteVersions(team, 'exp', 'out', [1, 2]))).toEqual([1, 2]);
        // Content equal to a deleted version is new content (the latest differs): a new number.
        const again = await store.experiments.commitVersion(commit(team, 'exp', 'out', 'out-1', { createdAt: at(50) }));
        expect(again).toMatchObject({
          created: true,
          version: { version: 4, digest: commit(team, 'exp', 'out', 'out-1').digest },
        });
        // The latest's own content is still "no new version".
        expect((await store.experiments.commitVersion(commit(team, 'exp', 'out', 'out-1'))).created).toBe(false);
        expect(await store.experiments.deleteVersions(team, 'exp', 'out', [3])).toEqual([3]);
        const next = await store.experiments.commitVersion(commit(team, 'exp', 'out', 'out-5'));
        expect(next.version.version).toBe(5);
        expect(await numbers()).toEqual([4, 5]);
        expect((await store.experiments.listArtifacts(team, 'exp'))[0]?.latestVersion).toBe(5);
      });

      it('concurrent deletes from two handles naming the same versions: each deleted version in exactly one result', async () => {
        const second = h.another ? await h.another() : store;
        await versions(13);
        // Every caller names 1..12 in its own order, some also a version already gone or never made.
        const n = 8;
        const named = Array.from({ length: 12 }, (_, i) => i + 1);
        const results = await Promise.all(
          Array.from({ length: n }, (_, i) =>
            (i % 2 ? second : store).experiments.deleteVersions(
              team,
              'exp',
              'out',
              i % 3 ? [...named].reverse() : [...named, 20],
            ),
          ),
        );
        const all = results.flat();
        expect(sorted(all)).toEqual(named);
        expect(await numbers()).toEqual([13]);
      });
    });
  });
}
