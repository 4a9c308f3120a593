import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetadataPorts } from '../../src/core/ports.ts';
import { at, commit, expectCode, experiment, sha256, uid } from './fixtures.ts';
import type { MetadataHarness, MetadataSuiteOptions } from './metadata-harness.ts';

/** The ExperimentStore clauses of artifact versions: commitVersion, getVersion, listArtifacts, listVersions. */
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
  });
}
