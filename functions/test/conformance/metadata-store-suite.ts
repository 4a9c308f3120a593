import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetadataStore } from '../../src/core/ports.ts';
import { at, commit, expectCode, experiment, sha256, token, uid, user } from './fixtures.ts';

export interface MetadataStoreHarness {
  store: MetadataStore;
  cleanup(): Promise<void>;
  /** Optional second handle on the same data (another connection or client); concurrency tests then use both. */
  another?(): Promise<MetadataStore>;
}

export interface MetadataStoreSuiteOptions {
  name: string;
  /** A fresh store per test (it may share a backend: every test uses its own team, user and token ids). */
  make: () => Promise<MetadataStoreHarness>;
}

/** The MetadataStore port contract (see core/ports.ts), run against every adapter. */
export function testMetadataStore(opts: MetadataStoreSuiteOptions): void {
  describe(`MetadataStore conformance: ${opts.name}`, () => {
    let h: MetadataStoreHarness;
    let store: MetadataStore;
    let team: string;
    let other: string;

    beforeEach(async () => {
      h = await opts.make();
      store = h.store;
      team = uid('team-a');
      other = uid('team-b');
    });
    afterEach(async () => {
      await h.cleanup();
    });

    describe('experiments', () => {
      it('createExperiment then getExperiment returns the same record; unknown keys give null', async () => {
        const exp = experiment(team, 'exp-1', {
          project: 'proj',
          warnings: ['out: a.bin: unreadable'],
          lineage: [{ as: 'data', experiment: 'exp-0', tag: 'out', version: 2 }],
        });
        await store.createExperiment(exp);
        expect(await store.getExperiment(team, 'exp-1')).toEqual(exp);
        expect(await store.getExperiment(team, 'nope')).toBeNull();
      });

      it('E_EXPERIMENT_EXISTS on a duplicate key; the original stays untouched', async () => {
        const exp = experiment(team, 'dup', { command: ['first'] });
        await store.createExperiment(exp);
        await expectCode(
          store.createExperiment(experiment(team, 'dup', { command: ['second'] })),
          'E_EXPERIMENT_EXISTS',
        );
        expect(await store.getExperiment(team, 'dup')).toEqual(exp);
      });

      it('concurrent creates of one key: exactly one wins', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => store.createExperiment(experiment(team, 'race', { command: [`c${i}`] }))),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe('E_EXPERIMENT_EXISTS');
        }
      });

      it('teams are isolated: same key in two teams, invisible across', async () => {
        await store.createExperiment(experiment(team, 'shared', { command: ['a'] }));
        expect(await store.getExperiment(other, 'shared')).toBeNull();
        await store.createExperiment(experiment(other, 'shared', { command: ['b'] }));
        expect((await store.getExperiment(team, 'shared'))?.command).toEqual(['a']);
        expect((await store.getExperiment(other, 'shared'))?.command).toEqual(['b']);
        await expectCode(store.updateExperiment(uid('team-c'), 'shared', { status: 'running' }), 'E_NOT_FOUND');
      });

      it('updateExperiment applies a patch and returns the merged record', async () => {
        await store.createExperiment(experiment(team, 'upd'));
        const updated = await store.updateExperiment(team, 'upd', {
          status: 'finished',
          exitCode: 0,
          finishedAt: at(60),
          warnings: ['w'],
        });
        expect(updated).toEqual(
          experiment(team, 'upd', { status: 'finished', exitCode: 0, finishedAt: at(60), warnings: ['w'] }),
        );
        expect(await store.getExperiment(team, 'upd')).toEqual(updated);
      });

      it('updateExperiment with a status precondition: passes when met, E_CONFLICT (nothing written) when not', async () => {
        await store.createExperiment(experiment(team, 'pre'));
        const running = await store.updateExperiment(team, 'pre', { status: 'running', startedAt: at(1) }, ['queued']);
        expect(running.status).toBe('running');
        await expectCode(store.updateExperiment(team, 'pre', { status: 'lost', host: 'x' }, ['queued']), 'E_CONFLICT');
        expect(await store.getExperiment(team, 'pre')).toEqual(running);
        const done = await store.updateExperiment(team, 'pre', { status: 'finished' }, ['queued', 'running']);
        expect(done.status).toBe('finished');
      });

      it('updateExperiment with a match precondition (attempt, lease deadline): E_CONFLICT and nothing written when stale', async () => {
        await store.createExperiment(experiment(team, 'match', { status: 'running' }));
        // A record without attempt counts as attempt 1 and without a lease as null.
        const a1 = await store.updateExperiment(team, 'match', { host: 'h1' }, ['running'], {
          attempt: 1,
          leaseExpiresAt: null,
        });
        expect(a1.host).toBe('h1');
        const a2 = await store.updateExperiment(team, 'match', { attempt: 2, leaseExpiresAt: at(10) }, ['running'], {
          attempt: 1,
        });
        expect(a2.attempt).toBe(2);
        await expectCode(
          store.updateExperiment(team, 'match', { status: 'lost' }, ['running'], { attempt: 1 }),
          'E_CONFLICT',
        );
        await expectCode(
          store.updateExperiment(team, 'match', { status: 'lost' }, ['running'], { attempt: 2, leaseExpiresAt: at(9) }),
          'E_CONFLICT',
        );
        expect(await store.getExperiment(team, 'match')).toEqual(a2);
        const lost = await store.updateExperiment(team, 'match', { status: 'lost' }, ['running'], {
          attempt: 2,
          leaseExpiresAt: at(10),
        });
        expect(lost.status).toBe('lost');
      });

      it('concurrent resumes (status + attempt preconditions) from two clients: exactly one succeeds', async () => {
        await store.createExperiment(experiment(team, 'resume-race', { status: 'finished' }));
        const second = h.another ? await h.another() : store;
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 ? second : store).updateExperiment(
              team,
              'resume-race',
              { status: 'running', attempt: 2, host: `r${i}` },
              ['finished', 'failed', 'stopped', 'lost'],
              { attempt: 1 },
            ),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe('E_CONFLICT');
        }
      });

      it('concurrent transitions with one precondition: exactly one succeeds', async () => {
        await store.createExperiment(experiment(team, 'lease'));
        const second = h.another ? await h.another() : store;
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 ? second : store).updateExperiment(team, 'lease', { status: 'running', host: `w${i}` }, ['queued']),
          ),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe('E_CONFLICT');
        }
        const host = (won[0] as PromiseFulfilledResult<{ host: string | null }>).value.host;
        expect((await store.getExperiment(team, 'lease'))?.host).toBe(host);
      });

      it('updateExperiment of a missing experiment throws E_NOT_FOUND', async () => {
        await expectCode(store.updateExperiment(team, 'ghost', { status: 'running' }), 'E_NOT_FOUND');
        await expectCode(store.updateExperiment(team, 'ghost', { status: 'running' }, ['queued']), 'E_NOT_FOUND');
      });

      it('listExperiments is newest first, filters by project, honours limit and the team', async () => {
        await store.createExperiment(experiment(team, 'e1', { createdAt: at(1), project: 'p1' }));
        await store.createExperiment(experiment(team, 'e3', { createdAt: at(3), project: 'p2' }));
        await store.createExperiment(experiment(team, 'e2', { createdAt: at(2), project: 'p1' }));
        await store.createExperiment(experiment(team, 'e4', { createdAt: at(4) }));
        await store.createExperiment(experiment(other, 'x1', { createdAt: at(5), project: 'p1' }));
        const keys = async (q: Parameters<MetadataStore['listExperiments']>[1], t = team) =>
          (await store.listExperiments(t, q)).map((e) => e.key);
        expect(await keys({})).toEqual(['e4', 'e3', 'e2', 'e1']);
        expect(await keys({ project: 'p1' })).toEqual(['e2', 'e1']);
        expect(await keys({ limit: 2 })).toEqual(['e4', 'e3']);
        expect(await keys({ project: 'p1', limit: 1 })).toEqual(['e2']);
        expect(await keys({ project: 'none' })).toEqual([]);
        expect(await keys({}, other)).toEqual(['x1']);
        expect(await keys({}, uid('team-c'))).toEqual([]);
        expect((await store.listExperiments(team, { limit: 1 }))[0]).toEqual(
          experiment(team, 'e4', { createdAt: at(4) }),
        );
      });
    });

    describe('experiment list pages', () => {
      it('a cursor walks every experiment once, newest first, ties on createdAt by key descending', async () => {
        // Three share one createdAt: the page boundary falls inside the tie.
        for (const [key, t] of [
          ['a', 1],
          ['b', 2],
          ['c', 2],
          ['d', 2],
          ['e', 3],
        ] as const) {
          await store.createExperiment(experiment(team, key, { createdAt: at(t) }));
        }
        const seen: string[] = [];
        let after: { createdAt: string; key: string } | undefined;
        for (let page = 0; page < 10; page++) {
          const rows = await store.listExperiments(team, { limit: 2, after });
          if (rows.length === 0) break;
          seen.push(...rows.map((e) => e.key));
          const last = rows[rows.length - 1];
          after = last && { createdAt: last.createdAt, key: last.key };
        }
        expect(seen).toEqual(['e', 'd', 'c', 'b', 'a']);
      });

      it('filters by status and owner, alone, together and with a cursor', async () => {
        await store.createExperiment(experiment(team, 'r1', { createdAt: at(1), status: 'running', owner: 'u1' }));
        await store.createExperiment(experiment(team, 'f1', { createdAt: at(2), status: 'finished', owner: 'u1' }));
        await store.createExperiment(experiment(team, 'f2', { createdAt: at(3), status: 'finished', owner: 'u2' }));
        await store.createExperiment(experiment(team, 'f3', { createdAt: at(4), status: 'finished', owner: 'u1' }));
        await store.createExperiment(experiment(other, 'o1', { createdAt: at(5), status: 'finished', owner: 'u1' }));
        const keys = async (q: Parameters<MetadataStore['listExperiments']>[1]) =>
          (await store.listExperiments(team, q)).map((e) => e.key);
        expect(await keys({ status: 'finished' })).toEqual(['f3', 'f2', 'f1']);
        expect(await keys({ owner: 'u1' })).toEqual(['f3', 'f1', 'r1']);
        expect(await keys({ owner: 'u1', status: 'finished' })).toEqual(['f3', 'f1']);
        expect(await keys({ status: 'finished', after: { createdAt: at(4), key: 'f3' } })).toEqual(['f2', 'f1']);
        expect(await keys({ status: 'stopped' })).toEqual([]);
      });
    });

    describe('artifact versions', () => {
      beforeEach(async () => {
        await store.createExperiment(experiment(team, 'exp'));
        await store.createExperiment(experiment(other, 'exp'));
      });

      it('numbers versions 1, 2, 3 and returns the committed record', async () => {
        for (const [i, content] of ['a', 'b', 'c'].entries()) {
          const input = commit(team, 'exp', 'out', content, { createdAt: at(10 + i), files: i + 1, bytes: 100 * i });
          const r = await store.commitVersion(input);
          expect(r.created).toBe(true);
          const { mutable: _m, ...fields } = input;
          expect(r.version).toEqual({ ...fields, version: i + 1 });
        }
      });

      it('the same digest as the latest version returns it with created=false and adds nothing', async () => {
        const first = await store.commitVersion(commit(team, 'exp', 'out', 'a'));
        const again = await store.commitVersion(
          commit(team, 'exp', 'out', 'a', { createdAt: at(99), createdBy: 'u2' }),
        );
        expect(again.created).toBe(false);
        expect(again.version).toEqual(first.version);
        expect(await store.listVersions(team, 'exp', 'out')).toHaveLength(1);
      });

      it('content equal to an older (not latest) version makes a new version', async () => {
        await store.commitVersion(commit(team, 'exp', 'out', 'a'));
        await store.commitVersion(commit(team, 'exp', 'out', 'b'));
        const r = await store.commitVersion(commit(team, 'exp', 'out', 'a'));
        expect(r.created).toBe(true);
        expect(r.version.version).toBe(3);
      });

      it('an immutable artifact keeps exactly one version: same digest ok, different digest E_IMMUTABLE', async () => {
        const first = await store.commitVersion(commit(team, 'exp', 'ws', 'a', { mutable: false }));
        expect(first).toMatchObject({ created: true, version: { version: 1 } });
        const same = await store.commitVersion(commit(team, 'exp', 'ws', 'a', { mutable: false }));
        expect(same).toEqual({ created: false, version: first.version });
        await expectCode(store.commitVersion(commit(team, 'exp', 'ws', 'b', { mutable: false })), 'E_IMMUTABLE');
        expect(await store.listVersions(team, 'exp', 'ws')).toEqual([first.version]);
      });

      it('E_CONFLICT when mutability disagrees with the existing artifact (both directions)', async () => {
        await store.commitVersion(commit(team, 'exp', 'mut', 'a', { mutable: true }));
        await expectCode(store.commitVersion(commit(team, 'exp', 'mut', 'b', { mutable: false })), 'E_CONFLICT');
        await store.commitVersion(commit(team, 'exp', 'imm', 'a', { mutable: false }));
        await expectCode(store.commitVersion(commit(team, 'exp', 'imm', 'b', { mutable: true })), 'E_CONFLICT');
        expect(await store.listVersions(team, 'exp', 'mut')).toHaveLength(1);
        expect((await store.listArtifacts(team, 'exp')).map((a) => [a.tag, a.mutable])).toEqual([
          ['imm', false],
          ['mut', true],
        ]);
      });

      it('20 concurrent commits of different digests to one tag give versions 1..20 (no lost update)', async () => {
        const second = h.another ? await h.another() : store;
        const n = 20;
        const results = await Promise.all(
          Array.from({ length: n }, (_, i) =>
            (i % 2 ? second : store).commitVersion(commit(team, 'exp', 'out', `c${i}`, { createdAt: at(100 + i) })),
          ),
        );
        expect(results.every((r) => r.created)).toBe(true);
        const numbers = results.map((r) => r.version.version).sort((a, b) => a - b);
        expect(numbers).toEqual(Array.from({ length: n }, (_, i) => i + 1));
        const listed = await store.listVersions(team, 'exp', 'out');
        expect(listed.map((v) => v.version)).toEqual(numbers);
        // Each returned record is the one stored under its number.
        const byNumber = new Map(listed.map((v) => [v.version, v.digest]));
        for (const r of results) expect(byNumber.get(r.version.version)).toBe(r.version.digest);
        expect(new Set(listed.map((v) => v.digest)).size).toBe(n);
        expect((await store.getVersion(team, 'exp', 'out'))?.version).toBe(n);
        expect((await store.listArtifacts(team, 'exp'))[0]?.latestVersion).toBe(n);
      });

      it('getVersion: latest, fixed, and null for a missing version, tag or experiment', async () => {
        const v1 = (await store.commitVersion(commit(team, 'exp', 'out', 'a'))).version;
        const v2 = (await store.commitVersion(commit(team, 'exp', 'out', 'b'))).version;
        expect(await store.getVersion(team, 'exp', 'out')).toEqual(v2);
        expect(await store.getVersion(team, 'exp', 'out', 1)).toEqual(v1);
        expect(await store.getVersion(team, 'exp', 'out', 2)).toEqual(v2);
        expect(await store.getVersion(team, 'exp', 'out', 3)).toBeNull();
        expect(await store.getVersion(team, 'exp', 'other')).toBeNull();
        expect(await store.getVersion(team, 'exp', 'other', 1)).toBeNull();
        expect(await store.getVersion(team, 'nope', 'out')).toBeNull();
      });

      it('listArtifacts (by tag) and listVersions (oldest first)', async () => {
        await store.commitVersion(commit(team, 'exp', 'zeta', 'z', { createdAt: at(20) }));
        await store.commitVersion(commit(team, 'exp', 'alpha', 'a1', { createdAt: at(21) }));
        await store.commitVersion(commit(team, 'exp', 'alpha', 'a2', { createdAt: at(22) }));
        await store.commitVersion(commit(team, 'exp', 'ws', 'w', { mutable: false, createdAt: at(23) }));
        const arts = await store.listArtifacts(team, 'exp');
        expect(arts.map((a) => a.tag)).toEqual(['alpha', 'ws', 'zeta']);
        expect(arts[0]).toMatchObject({ team, experiment: 'exp', tag: 'alpha', mutable: true, latestVersion: 2 });
        expect(arts[1]).toMatchObject({ tag: 'ws', mutable: false, latestVersion: 1 });
        expect(Date.parse(arts[0]?.createdAt ?? '')).not.toBeNaN();
        expect(Date.parse(arts[0]?.updatedAt ?? '')).toBeGreaterThanOrEqual(Date.parse(arts[0]?.createdAt ?? ''));
        const versions = await store.listVersions(team, 'exp', 'alpha');
        expect(versions.map((v) => [v.version, v.digest])).toEqual([
          [1, sha256('digest:a1')],
          [2, sha256('digest:a2')],
        ]);
        expect(await store.listVersions(team, 'exp', 'missing')).toEqual([]);
        expect(await store.listArtifacts(team, 'missing')).toEqual([]);
      });

      it('teams are isolated: versions, artifacts and numbering are per team', async () => {
        await store.commitVersion(commit(team, 'exp', 'out', 'a'));
        await store.commitVersion(commit(team, 'exp', 'out', 'b'));
        await store.commitVersion(commit(team, 'exp', 'ws', 'w', { mutable: false }));
        expect(await store.getVersion(other, 'exp', 'out')).toBeNull();
        expect(await store.getVersion(other, 'exp', 'out', 1)).toBeNull();
        expect(await store.listArtifacts(other, 'exp')).toEqual([]);
        expect(await store.listVersions(other, 'exp', 'out')).toEqual([]);
        // Same tag in the other team starts at 1 and may even differ in mutability.
        const r = await store.commitVersion(commit(other, 'exp', 'out', 'b', { mutable: false }));
        expect(r).toMatchObject({ created: true, version: { team: other, version: 1 } });
        const w = await store.commitVersion(commit(other, 'exp', 'ws', 'other-content', { mutable: false }));
        expect(w.created).toBe(true);
        expect((await store.getVersion(team, 'exp', 'out'))?.version).toBe(2);
      });
    });

    describe('blobs', () => {
      const a = sha256('blob a');
      const b = sha256('blob b');
      const c = sha256('blob c');

      it('findBlobs returns only recorded blobs; empty input gives an empty map', async () => {
        await store.putBlobs(team, [
          { sha256: a, size: 10, verified: false },
          { sha256: b, size: 20, verified: true },
        ]);
        const found = await store.findBlobs(team, [a, b, c]);
        expect(found.size).toBe(2);
        expect(found.get(a)).toEqual({ sha256: a, size: 10, verified: false });
        expect(found.get(b)).toEqual({ sha256: b, size: 20, verified: true });
        expect(found.has(c)).toBe(false);
        expect((await store.findBlobs(team, [])).size).toBe(0);
      });

      it('re-recording is idempotent and only upgrades verified', async () => {
        await store.putBlobs(team, [{ sha256: a, size: 10, verified: false }]);
        await store.putBlobs(team, [{ sha256: a, size: 10, verified: false }]);
        expect((await store.findBlobs(team, [a])).get(a)?.verified).toBe(false);
        await store.putBlobs(team, [{ sha256: a, size: 10, verified: true }]);
        expect((await store.findBlobs(team, [a])).get(a)?.verified).toBe(true);
        await store.putBlobs(team, [{ sha256: a, size: 10, verified: false }]);
        expect((await store.findBlobs(team, [a])).get(a)).toEqual({ sha256: a, size: 10, verified: true });
      });

      it('handles a large batch', async () => {
        const many = Array.from({ length: 1500 }, (_, i) => ({
          sha256: sha256(`many ${i}`),
          size: i,
          verified: i % 2 === 0,
        }));
        await store.putBlobs(team, many);
        const found = await store.findBlobs(team, [...many.map((m) => m.sha256), c]);
        expect(found.size).toBe(1500);
        expect(found.get(many[1499]?.sha256 as string)).toEqual(many[1499]);
      });

      it('teams are isolated: one team never sees another team blobs', async () => {
        await store.putBlobs(team, [{ sha256: a, size: 10, verified: true }]);
        expect((await store.findBlobs(other, [a])).size).toBe(0);
        await store.putBlobs(other, [{ sha256: a, size: 10, verified: false }]);
        expect((await store.findBlobs(other, [a])).get(a)?.verified).toBe(false);
        expect((await store.findBlobs(team, [a])).get(a)?.verified).toBe(true);
      });
    });

    describe('blob garbage collection', () => {
      const a = sha256('gc a');
      const b = sha256('gc b');
      const c = sha256('gc c');
      const d = sha256('gc d');
      const sorted = (xs: string[]) => [...xs].sort();
      /** Every record of the team (the test teams hold few), by sha256. */
      const stored = async (t: string) => {
        const all = await store.listBlobs(t, { limit: 1000 });
        return new Map(all.map((r) => [r.sha256, r]));
      };

      it('condemnBlobs sets condemnedAt on existing records, returns them, and findBlobs shows it', async () => {
        await store.putBlobs(team, [
          { sha256: a, size: 10, verified: true },
          { sha256: b, size: 20, verified: false },
          { sha256: c, size: 30, verified: true },
        ]);
        expect(
          sorted(
            await store.condemnBlobs(
              team,
              [
                { sha256: a, size: 10 },
                { sha256: b, size: 20 },
              ],
              at(100),
            ),
          ),
        ).toEqual(sorted([a, b]));
        const found = await store.findBlobs(team, [a, b, c]);
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
        expect((await store.condemnBlobs(team, [], at(101))).length).toBe(0);
      });

      it('condemnBlobs creates an unverified condemned record for an absent hash (once per hash)', async () => {
        const before = new Date().toISOString();
        expect(
          await store.condemnBlobs(
            team,
            [
              { sha256: d, size: 7 },
              { sha256: d, size: 7 },
            ],
            at(5),
          ),
        ).toEqual([d]);
        const after = new Date().toISOString();
        expect((await store.findBlobs(team, [d])).get(d)).toStrictEqual({
          sha256: d,
          size: 7,
          verified: false,
          condemnedAt: at(5),
        });
        const rec = (await store.listBlobs(team, { limit: 10 }))[0];
        expect(rec).toMatchObject({ sha256: d, size: 7, verified: false, condemnedAt: at(5), deleting: false });
        const createdAt = rec?.createdAt ?? '';
        expect(createdAt >= before && createdAt <= after, `createdAt ${createdAt}`).toBe(true);
      });

      it('condemnBlobs skips condemned (keeps the first time) and deleting records; returns only what it changed', async () => {
        await store.putBlobs(team, [
          { sha256: a, size: 1, verified: true },
          { sha256: b, size: 2, verified: true },
          { sha256: c, size: 3, verified: false },
        ]);
        expect(await store.condemnBlobs(team, [{ sha256: a, size: 1 }], at(1))).toEqual([a]);
        expect(await store.condemnBlobs(team, [{ sha256: b, size: 2 }], at(1))).toEqual([b]);
        expect(await store.beginBlobDelete(team, b, at(1))).toBe(true);
        const changed = await store.condemnBlobs(
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
          await store.condemnBlobs(
            team,
            [a, b, c, d].map((sha) => ({ sha256: sha, size: 9 })),
            at(3),
          ),
        ).toEqual([]);
        expect((await stored(team)).get(a)?.condemnedAt).toBe(at(1));
      });

      it('putBlobs clears condemnedAt, keeps verified monotone and keeps size and createdAt', async () => {
        await store.putBlobs(team, [{ sha256: a, size: 10, verified: true }]);
        const createdAt = (await stored(team)).get(a)?.createdAt;
        await store.condemnBlobs(team, [{ sha256: a, size: 10 }], at(1));
        // condemnedAt on the input is ignored; an unverified re-record does not downgrade.
        await store.putBlobs(team, [{ sha256: a, size: 10, verified: false, condemnedAt: at(9) }]);
        expect((await store.findBlobs(team, [a])).get(a)).toStrictEqual({ sha256: a, size: 10, verified: true });
        expect((await stored(team)).get(a)).toMatchObject({ createdAt, deleting: false, verified: true });
        expect((await stored(team)).get(a)?.condemnedAt).toBeUndefined();

        // A record condemn created (unverified) is rescued and upgraded by a verified putBlobs.
        await store.condemnBlobs(team, [{ sha256: b, size: 20 }], at(2));
        await store.putBlobs(team, [{ sha256: b, size: 20, verified: true }]);
        expect((await store.findBlobs(team, [b])).get(b)).toStrictEqual({ sha256: b, size: 20, verified: true });
        // A new record from putBlobs is never condemned, even if the input says so.
        await store.putBlobs(team, [{ sha256: c, size: 30, verified: false, condemnedAt: at(3) }]);
        expect((await store.findBlobs(team, [c])).get(c)).toStrictEqual({ sha256: c, size: 30, verified: false });
      });

      it('absolveBlobs clears condemnedAt; absent, uncondemned and deleting records are left alone', async () => {
        await store.putBlobs(team, [
          { sha256: a, size: 1, verified: true },
          { sha256: b, size: 2, verified: true },
          { sha256: c, size: 3, verified: false },
        ]);
        await store.condemnBlobs(
          team,
          [
            { sha256: a, size: 1 },
            { sha256: b, size: 2 },
          ],
          at(1),
        );
        expect(await store.beginBlobDelete(team, b, at(1))).toBe(true);
        await store.absolveBlobs(team, [a, b, c, d]);
        const all = await stored(team);
        expect(all.get(a)?.condemnedAt).toBeUndefined();
        expect(all.get(a)).toMatchObject({ verified: true, deleting: false });
        expect(all.get(b)).toMatchObject({ condemnedAt: at(1), deleting: true });
        expect(all.get(c)).toMatchObject({ verified: false, deleting: false });
        expect(all.get(c)?.condemnedAt).toBeUndefined();
        expect(all.has(d)).toBe(false);
        expect((await store.findBlobs(team, [a])).get(a)).toStrictEqual({ sha256: a, size: 1, verified: true });
        // An absolved record can no longer be deleted under its old condemnation.
        expect(await store.beginBlobDelete(team, a, at(1))).toBe(false);
        await store.absolveBlobs(team, []);
      });

      it('beginBlobDelete: true only with the same condemnedAt; false after a rescue, when absent or never condemned; true again when deleting', async () => {
        await store.putBlobs(team, [{ sha256: a, size: 1, verified: true }]);
        expect(await store.beginBlobDelete(team, a, at(1))).toBe(false); // never condemned
        expect(await store.beginBlobDelete(team, d, at(1))).toBe(false); // absent
        expect((await stored(team)).has(d)).toBe(false);

        await store.condemnBlobs(team, [{ sha256: a, size: 1 }], at(1));
        expect(await store.beginBlobDelete(team, a, at(2))).toBe(false); // another condemnation
        expect((await stored(team)).get(a)?.deleting).toBe(false);

        await store.putBlobs(team, [{ sha256: a, size: 1, verified: true }]); // a commit needed it again
        expect(await store.beginBlobDelete(team, a, at(1))).toBe(false);
        expect((await stored(team)).get(a)?.deleting).toBe(false);

        // Condemned again later: only the new time counts.
        await store.condemnBlobs(team, [{ sha256: a, size: 1 }], at(3));
        expect(await store.beginBlobDelete(team, a, at(1))).toBe(false);
        expect(await store.beginBlobDelete(team, a, at(3))).toBe(true);
        expect((await stored(team)).get(a)).toMatchObject({ deleting: true, condemnedAt: at(3) });
        // Already deleting: true (a crashed run is finished by the next one), whatever time it passes.
        expect(await store.beginBlobDelete(team, a, at(3))).toBe(true);
        expect(await store.beginBlobDelete(team, a, at(99))).toBe(true);
        expect(await store.beginBlobDelete(other, a, at(3))).toBe(false);
      });

      it('findBlobs hides deleting records; putBlobs on one is E_CONFLICT with details.deleting and does not revive it', async () => {
        await store.putBlobs(team, [
          { sha256: a, size: 1, verified: false },
          { sha256: b, size: 2, verified: true },
        ]);
        await store.condemnBlobs(team, [{ sha256: a, size: 1 }], at(1));
        expect(await store.beginBlobDelete(team, a, at(1))).toBe(true);
        const found = await store.findBlobs(team, [a, b]);
        expect([...found.keys()]).toEqual([b]);

        const err = await expectCode(
          store.putBlobs(team, [
            { sha256: c, size: 3, verified: true },
            { sha256: a, size: 1, verified: true },
            { sha256: b, size: 2, verified: true },
          ]),
          'E_CONFLICT',
        );
        expect((err as Error & { details?: { deleting?: unknown } }).details?.deleting).toEqual([a]);
        const rec = (await stored(team)).get(a);
        expect(rec).toMatchObject({ deleting: true, condemnedAt: at(1), verified: false, size: 1 });
        expect((await store.findBlobs(team, [a])).has(a)).toBe(false);
        // Also alone, and still refused after another try.
        await expectCode(store.putBlobs(team, [{ sha256: a, size: 1, verified: false }]), 'E_CONFLICT');
        expect((await stored(team)).get(a)).toMatchObject({ deleting: true, condemnedAt: at(1) });
      });

      it('finishBlobDelete removes only deleting records; the hash can then be recorded afresh', async () => {
        await store.putBlobs(team, [
          { sha256: a, size: 1, verified: true },
          { sha256: b, size: 2, verified: true },
          { sha256: c, size: 3, verified: true },
        ]);
        await store.condemnBlobs(
          team,
          [
            { sha256: a, size: 1 },
            { sha256: b, size: 2 },
          ],
          at(1),
        );
        expect(await store.beginBlobDelete(team, a, at(1))).toBe(true);
        await store.finishBlobDelete(team, a);
        await store.finishBlobDelete(team, b); // condemned, not deleting
        await store.finishBlobDelete(team, c); // neither
        await store.finishBlobDelete(team, d); // absent
        await store.finishBlobDelete(team, a); // already gone
        const all = await stored(team);
        expect(sorted([...all.keys()])).toEqual(sorted([b, c]));
        expect(all.get(b)).toMatchObject({ condemnedAt: at(1), deleting: false });
        expect(await store.beginBlobDelete(team, a, at(1))).toBe(false);

        await store.putBlobs(team, [{ sha256: a, size: 1, verified: false }]);
        expect((await store.findBlobs(team, [a])).get(a)).toStrictEqual({ sha256: a, size: 1, verified: false });
        expect((await stored(team)).get(a)).toMatchObject({ deleting: false });
      });

      it('listBlobs pages by sha256 ascending with after (exclusive) and limit; deleting records included', async () => {
        expect(await store.listBlobs(team, { limit: 10 })).toEqual([]);
        const before = new Date().toISOString();
        const recs = Array.from({ length: 7 }, (_, i) => ({
          sha256: sha256(`page ${i}`),
          size: i,
          verified: i % 2 === 0,
        }));
        await store.putBlobs(team, recs);
        const after = new Date().toISOString();
        const order = sorted(recs.map((r) => r.sha256));
        const gone = order[4] as string;
        await store.condemnBlobs(team, [{ sha256: gone, size: 0 }], at(1));
        expect(await store.beginBlobDelete(team, gone, at(1))).toBe(true);

        const pages: string[][] = [];
        let cursor: string | undefined;
        // Bounded: an adapter whose `after` is not exclusive would page forever.
        for (let n = 0; n < 10; n++) {
          const page = await store.listBlobs(team, { after: cursor, limit: 3 });
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
        expect((await store.listBlobs(team, { after: order[1], limit: 2 })).map((r) => r.sha256)).toEqual(
          order.slice(2, 4),
        );
        // `after` need not be a recorded hash.
        expect((await store.listBlobs(team, { after: '0', limit: 100 })).map((r) => r.sha256)).toEqual(
          order.filter((s) => s > '0'),
        );
        expect(await store.listBlobs(team, { after: order[6], limit: 5 })).toEqual([]);
        expect(await store.listBlobs(other, { limit: 5 })).toEqual([]);
      });

      it('teams are isolated: condemnation, deletion and listing are per team', async () => {
        await store.putBlobs(team, [{ sha256: a, size: 1, verified: true }]);
        await store.putBlobs(other, [{ sha256: a, size: 1, verified: true }]);
        expect(await store.condemnBlobs(team, [{ sha256: a, size: 1 }], at(1))).toEqual([a]);
        expect((await store.findBlobs(other, [a])).get(a)).toStrictEqual({ sha256: a, size: 1, verified: true });
        expect(await store.beginBlobDelete(other, a, at(1))).toBe(false);
        expect(await store.beginBlobDelete(team, a, at(1))).toBe(true);
        expect((await store.findBlobs(other, [a])).has(a)).toBe(true);
        await store.putBlobs(other, [{ sha256: a, size: 1, verified: true }]); // no conflict in the other team
        await store.condemnBlobs(other, [{ sha256: b, size: 2 }], at(2));
        expect((await store.listBlobs(team, { limit: 10 })).map((r) => r.sha256)).toEqual([a]);
        expect((await store.listBlobs(other, { limit: 10 })).map((r) => r.sha256)).toEqual(sorted([a, b]));
        await store.finishBlobDelete(other, a); // not deleting there
        await store.finishBlobDelete(team, a);
        expect(await store.listBlobs(team, { limit: 10 })).toEqual([]);
        expect((await stored(other)).get(a)).toMatchObject({ deleting: false, verified: true });
      });

      it('putBlobs (a commit rescuing the blob) racing beginBlobDelete from two handles: never both succeed', async () => {
        const second = h.another ? await h.another() : store;
        const outcomes = { deleted: 0, rescued: 0 };
        for (let round = 0; round < 12; round++) {
          const sha = sha256(uid('race'));
          const when = at(round);
          await store.putBlobs(team, [{ sha256: sha, size: 5, verified: false }]);
          expect(await store.condemnBlobs(team, [{ sha256: sha, size: 5 }], when)).toEqual([sha]);
          // Alternate which handle does what, and which call starts first.
          const [putter, deleter] = round % 2 ? [store, second] : [second, store];
          const put = () => putter.putBlobs(team, [{ sha256: sha, size: 5, verified: true }]);
          const begin = () => deleter.beginBlobDelete(team, sha, when);
          const [p, d] =
            round % 4 < 2
              ? await Promise.allSettled([put(), begin()])
              : await Promise.allSettled([begin(), put()]).then(([x, y]) => [y, x] as const);
          if (d.status !== 'fulfilled') throw d.reason;
          const rec = (await store.listBlobs(team, { after: sha.slice(0, -1), limit: 1 }))[0];
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
            expect((await store.findBlobs(team, [sha])).get(sha)).toStrictEqual({
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

    describe('users, tokens, memberships', () => {
      it('putUser/getUser round-trip; put again updates; unknown id gives null', async () => {
        const id = uid('user');
        await store.putUser(user(id));
        expect(await store.getUser(id)).toEqual(user(id));
        await store.putUser(user(id, { name: 'Renamed' }));
        expect((await store.getUser(id))?.name).toBe('Renamed');
        expect(await store.getUser(uid('nobody'))).toBeNull();
      });

      it('listUsers lists every user by id ascending', async () => {
        const [b, a] = [uid('user-b'), uid('user-a')];
        await store.putUser(user(b));
        await store.putUser(user(a, { email: `${a}@example.org` }));
        const all = await store.listUsers();
        const ids = all.map((u) => u.id);
        expect(ids).toEqual([...ids].sort());
        expect(all.find((u) => u.id === a)).toEqual(user(a, { email: `${a}@example.org` }));
        expect(ids).toContain(b);
      });

      it('putToken/getTokenByHash round-trip; unknown hash gives null', async () => {
        const u = uid('user');
        await store.putUser(user(u));
        const t = token(uid('tok'), u, { kind: 'worker', scopes: ['queue:default', 'read'], expiresAt: at(3600) });
        await store.putToken(t);
        expect(await store.getTokenByHash(t.hash)).toEqual(t);
        expect(await store.getTokenByHash(sha256(uid('unknown')))).toBeNull();
      });

      it('revokeToken sets revokedAt and leaves other tokens alone', async () => {
        const u = uid('user');
        await store.putUser(user(u));
        const t1 = token(uid('tok'), u);
        const t2 = token(uid('tok'), u);
        await store.putToken(t1);
        await store.putToken(t2);
        await store.revokeToken(t1.id, at(500));
        expect(await store.getTokenByHash(t1.hash)).toEqual({ ...t1, revokedAt: at(500) });
        expect((await store.getTokenByHash(t2.hash))?.revokedAt).toBeNull();
      });

      it('listTokens: only the user own tokens, newest first, revoked ones included with revokedAt', async () => {
        const u = uid('user');
        const someoneElse = uid('user');
        await store.putUser(user(u));
        await store.putUser(user(someoneElse));
        expect(await store.listTokens(u)).toEqual([]);
        const old = token(uid('tok'), u, { createdAt: at(10) });
        const mid = token(uid('tok'), u, { createdAt: at(20), kind: 'job', scopes: ['read'], expiresAt: at(99) });
        const newest = token(uid('tok'), u, { createdAt: at(30) });
        const foreign = token(uid('tok'), someoneElse, { createdAt: at(25) });
        for (const t of [mid, foreign, newest, old]) await store.putToken(t);
        await store.revokeToken(mid.id, at(40));
        expect(await store.listTokens(u)).toEqual([newest, { ...mid, revokedAt: at(40) }, old]);
        expect(await store.listTokens(someoneElse)).toEqual([foreign]);
        expect(await store.listTokens(uid('nobody'))).toEqual([]);
      });

      it("listTeamTokens: the team's worker and job tokens of any owner, newest first; nothing else", async () => {
        const [a, b] = [uid('user'), uid('user')];
        for (const u of [a, b]) await store.putUser(user(u));
        const w = token(uid('tok'), a, { kind: 'worker', createdAt: at(10), binding: { team, queue: 'q' } });
        const j = token(uid('tok'), b, {
          kind: 'job',
          createdAt: at(20),
          binding: { team, experiment: 'e', attempt: 1, queuedAt: at(5), reads: [] },
        });
        const elsewhere = token(uid('tok'), a, { kind: 'worker', createdAt: at(30), binding: { team: other } });
        const personal = token(uid('tok'), a, { createdAt: at(40) });
        for (const t of [w, elsewhere, j, personal]) await store.putToken(t);
        await store.revokeToken(w.id, at(50));
        expect(await store.listTeamTokens(team)).toEqual([j, { ...w, revokedAt: at(50) }]);
        expect(await store.listTeamTokens(other)).toEqual([elsewhere]);
        expect(await store.listTeamTokens(uid('no-team'))).toEqual([]);
      });

      it('getToken by id returns the record (revokedAt once revoked); unknown ids give null', async () => {
        const u = uid('user');
        await store.putUser(user(u));
        const t = token(uid('tok'), u, { scopes: ['read', 'write'], expiresAt: at(3600) });
        await store.putToken(t);
        expect(await store.getToken(t.id)).toEqual(t);
        await store.revokeToken(t.id, at(7));
        await store.revokeToken(t.id, at(8));
        expect(await store.getToken(t.id)).toEqual({ ...t, revokedAt: at(7) });
        expect(await store.getToken(uid('unknown'))).toBeNull();
        expect(await store.getToken(t.hash)).toBeNull();
      });

      it('setMembership sets, changes and (with null) removes a role, per team', async () => {
        const u = uid('user');
        await store.putUser(user(u));
        expect(await store.getMemberships(u)).toEqual({});
        await store.setMembership(team, u, 'viewer');
        await store.setMembership(other, u, 'admin');
        expect(await store.getMemberships(u)).toEqual({ [team]: 'viewer', [other]: 'admin' });
        await store.setMembership(team, u, 'editor');
        expect(await store.getMemberships(u)).toEqual({ [team]: 'editor', [other]: 'admin' });
        await store.setMembership(other, u, null);
        expect(await store.getMemberships(u)).toEqual({ [team]: 'editor' });
        await store.setMembership(other, u, null);
        expect(await store.getMemberships(u)).toEqual({ [team]: 'editor' });
      });

      it('memberships are per user', async () => {
        const u1 = uid('user');
        const u2 = uid('user');
        await store.putUser(user(u1));
        await store.putUser(user(u2));
        await store.setMembership(team, u1, 'admin');
        expect(await store.getMemberships(u2)).toEqual({});
        await store.setMembership(team, u2, 'viewer');
        expect(await store.getMemberships(u1)).toEqual({ [team]: 'admin' });
        expect(await store.getMemberships(u2)).toEqual({ [team]: 'viewer' });
      });
    });

    describe('teams', () => {
      it('createTeam then getTeam; a second create is E_CONFLICT and keeps the first; unknown gives null', async () => {
        const rec = { id: team, createdBy: 'alice', createdAt: at(1) };
        await store.createTeam(rec);
        expect(await store.getTeam(team)).toEqual(rec);
        await expectCode(store.createTeam({ id: team, createdBy: 'mallory', createdAt: at(2) }), 'E_CONFLICT');
        expect(await store.getTeam(team)).toEqual(rec);
        expect(await store.getTeam(other)).toBeNull();
      });

      it('concurrent creates of one team: exactly one wins', async () => {
        const second = h.another ? await h.another() : store;
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 ? second : store).createTeam({ id: team, createdBy: `u${i}`, createdAt: at(i) }),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe('E_CONFLICT');
        }
      });

      it('listTeamMembers: members of that team only, by user id, following every change', async () => {
        const [u1, u2, u3] = ['m-c', 'm-a', 'm-b'].map((p) => `${p}-${uid('u')}`) as [string, string, string];
        expect(await store.listTeamMembers(team)).toEqual([]);
        await store.setMembership(team, u1, 'admin');
        await store.setMembership(team, u2, 'viewer');
        await store.setMembership(other, u3, 'editor');
        expect(await store.listTeamMembers(team)).toEqual([
          { userId: u2, role: 'viewer' },
          { userId: u1, role: 'admin' },
        ]);
        await store.setMembership(team, u2, 'editor');
        await store.setMembership(team, u1, null);
        expect(await store.listTeamMembers(team)).toEqual([{ userId: u2, role: 'editor' }]);
        expect(await store.listTeamMembers(other)).toEqual([{ userId: u3, role: 'editor' }]);
      });

      it('keepAdmin: the last admin cannot be demoted or removed (E_CONFLICT, nothing changes); another can', async () => {
        const a = uid('admin');
        const b = uid('admin');
        await store.setMembership(team, a, 'admin');
        await store.setMembership(team, uid('viewer'), 'viewer');
        await expectCode(store.setMembership(team, a, 'editor', { keepAdmin: true }), 'E_CONFLICT');
        await expectCode(store.setMembership(team, a, null, { keepAdmin: true }), 'E_CONFLICT');
        expect(await store.getMemberships(a)).toEqual({ [team]: 'admin' });
        await store.setMembership(team, a, 'admin', { keepAdmin: true }); // no change in admins: fine
        await store.setMembership(team, b, 'admin', { keepAdmin: true });
        await store.setMembership(team, a, null, { keepAdmin: true });
        expect(await store.getMemberships(a)).toEqual({});
        // Removing a non-member or a non-admin is never refused.
        await store.setMembership(team, uid('ghost'), null, { keepAdmin: true });
        // Without keepAdmin the store does as told (bootstrap and repair paths).
        await store.setMembership(team, b, 'viewer');
        expect((await store.listTeamMembers(team)).filter((m) => m.role === 'admin')).toEqual([]);
      });

      it('two admins demoting each other at once: exactly one succeeds, one admin remains', async () => {
        const second = h.another ? await h.another() : store;
        for (let round = 0; round < 3; round++) {
          const t = uid('team-race');
          const a = uid('admin');
          const b = uid('admin');
          await store.setMembership(t, a, 'admin');
          await store.setMembership(t, b, 'admin');
          const results = await Promise.allSettled([
            store.setMembership(t, a, 'viewer', { keepAdmin: true }),
            second.setMembership(t, b, null, { keepAdmin: true }),
          ]);
          expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
          const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
          expect((failed.reason as { code?: string }).code).toBe('E_CONFLICT');
          expect((await store.listTeamMembers(t)).filter((m) => m.role === 'admin')).toHaveLength(1);
        }
      });
    });

    describe('deleteExperiment', () => {
      it('removes the experiment, its artifacts and versions; returns counts; others untouched; blobs stay', async () => {
        await store.createExperiment(experiment(team, 'gone'));
        await store.createExperiment(experiment(team, 'kept'));
        await store.createExperiment(experiment(other, 'gone'));
        for (const c of ['a', 'b', 'c']) await store.commitVersion(commit(team, 'gone', 'out', c));
        await store.commitVersion(commit(team, 'gone', 'ws', 'w', { mutable: false }));
        await store.commitVersion(commit(team, 'kept', 'out', 'a'));
        await store.commitVersion(commit(other, 'gone', 'out', 'a'));
        const blob = sha256('blob of gone');
        await store.putBlobs(team, [{ sha256: blob, size: 3, verified: true }]);

        expect(await store.deleteExperiment(team, 'gone')).toEqual({ artifacts: 2, versions: 4 });
        expect(await store.getExperiment(team, 'gone')).toBeNull();
        expect(await store.listArtifacts(team, 'gone')).toEqual([]);
        expect(await store.listVersions(team, 'gone', 'out')).toEqual([]);
        expect(await store.getVersion(team, 'gone', 'out')).toBeNull();
        expect(await store.getVersion(team, 'gone', 'out', 1)).toBeNull();
        expect((await store.listExperiments(team, {})).map((e) => e.key)).toEqual(['kept']);
        expect(await store.listVersions(team, 'kept', 'out')).toHaveLength(1);
        expect(await store.listVersions(other, 'gone', 'out')).toHaveLength(1);
        expect((await store.findBlobs(team, [blob])).get(blob)?.verified).toBe(true);

        // The key is free again, and a new experiment under it starts from version 1.
        await store.createExperiment(experiment(team, 'gone'));
        expect((await store.commitVersion(commit(team, 'gone', 'out', 'c'))).version.version).toBe(1);
      });

      it('an experiment without artifacts; E_NOT_FOUND for a missing one (and after deletion)', async () => {
        await store.createExperiment(experiment(team, 'empty'));
        expect(await store.deleteExperiment(team, 'empty')).toEqual({ artifacts: 0, versions: 0 });
        await expectCode(store.deleteExperiment(team, 'empty'), 'E_NOT_FOUND');
        await expectCode(store.deleteExperiment(other, 'never'), 'E_NOT_FOUND');
      });
    });
  });
}
