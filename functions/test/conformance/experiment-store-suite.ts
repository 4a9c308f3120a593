import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ExperimentStore, MetadataPorts } from '../../src/core/ports.ts';
import { testExperimentVersions } from './experiment-versions-suite.ts';
import { at, commit, expectCode, experiment, sha256, uid } from './fixtures.ts';
import type { MetadataHarness, MetadataSuiteOptions } from './metadata-harness.ts';

/** The ExperimentStore port contract (core/ports/), run against every adapter; setup may use the other metadata ports. */
export function testExperimentStore(opts: MetadataSuiteOptions): void {
  describe(`ExperimentStore conformance: ${opts.name}`, () => {
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

    describe('experiments', () => {
      it('createExperiment then getExperiment returns the same record; unknown keys give null', async () => {
        const exp = experiment(team, 'exp-1', {
          project: 'proj',
          warnings: ['out: a.bin: unreadable'],
          lineage: [{ as: 'data', experiment: 'exp-0', tag: 'out', version: 2 }],
        });
        await store.experiments.createExperiment(exp);
        expect(await store.experiments.getExperiment(team, 'exp-1')).toEqual(exp);
        expect(await store.experiments.getExperiment(team, 'nope')).toBeNull();
      });

      it('E_EXPERIMENT_EXISTS on a duplicate key; the original stays untouched', async () => {
        const exp = experiment(team, 'dup', { command: ['first'] });
        await store.experiments.createExperiment(exp);
        await expectCode(
          store.experiments.createExperiment(experiment(team, 'dup', { command: ['second'] })),
          'E_EXPERIMENT_EXISTS',
        );
        expect(await store.experiments.getExperiment(team, 'dup')).toEqual(exp);
      });

      it('concurrent creates of one key: exactly one wins', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) =>
            store.experiments.createExperiment(experiment(team, 'race', { command: [`c${i}`] })),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe('E_EXPERIMENT_EXISTS');
        }
      });

      it('teams are isolated: same key in two teams, invisible across', async () => {
        await store.experiments.createExperiment(experiment(team, 'shared', { command: ['a'] }));
        expect(await store.experiments.getExperiment(other, 'shared')).toBeNull();
        await store.experiments.createExperiment(experiment(other, 'shared', { command: ['b'] }));
        expect((await store.experiments.getExperiment(team, 'shared'))?.command).toEqual(['a']);
        expect((await store.experiments.getExperiment(other, 'shared'))?.command).toEqual(['b']);
        await expectCode(
          store.experiments.updateExperiment(uid('team-c'), 'shared', { status: 'running' }),
          'E_NOT_FOUND',
        );
      });

      it('updateExperiment applies a patch and returns the merged record', async () => {
        await store.experiments.createExperiment(experiment(team, 'upd'));
        const updated = await store.experiments.updateExperiment(team, 'upd', {
          status: 'finished',
          exitCode: 0,
          finishedAt: at(60),
          warnings: ['w'],
        });
        expect(updated).toEqual(
          experiment(team, 'upd', { status: 'finished', exitCode: 0, finishedAt: at(60), warnings: ['w'] }),
        );
        expect(await store.experiments.getExperiment(team, 'upd')).toEqual(updated);
      });

      it('updateExperiment with a status precondition: passes when met, E_CONFLICT (nothing written) when not', async () => {
        await store.experiments.createExperiment(experiment(team, 'pre'));
        const running = await store.experiments.updateExperiment(team, 'pre', { status: 'running', startedAt: at(1) }, [
          'queued',
        ]);
        expect(running.status).toBe('running');
        await expectCode(
          store.experiments.updateExperiment(team, 'pre', { status: 'lost', host: 'x' }, ['queued']),
          'E_CONFLICT',
        );
        expect(await store.experiments.getExperiment(team, 'pre')).toEqual(running);
        const done = await store.experiments.updateExperiment(team, 'pre', { status: 'finished' }, [
          'queued',
          'running',
        ]);
        expect(done.status).toBe('finished');
      });

      it('updateExperiment with a match precondition (attempt, lease deadline): E_CONFLICT and nothing written when stale', async () => {
        await store.experiments.createExperiment(experiment(team, 'match', { status: 'running' }));
        // A record without attempt counts as attempt 1 and without a lease as null.
        const a1 = await store.experiments.updateExperiment(team, 'match', { host: 'h1' }, ['running'], {
          attempt: 1,
          leaseExpiresAt: null,
        });
        expect(a1.host).toBe('h1');
        const a2 = await store.experiments.updateExperiment(
          team,
          'match',
          { attempt: 2, leaseExpiresAt: at(10) },
          ['running'],
          {
            attempt: 1,
          },
        );
        expect(a2.attempt).toBe(2);
        await expectCode(
          store.experiments.updateExperiment(team, 'match', { status: 'lost' }, ['running'], { attempt: 1 }),
          'E_CONFLICT',
        );
        await expectCode(
          store.experiments.updateExperiment(team, 'match', { status: 'lost' }, ['running'], {
            attempt: 2,
            leaseExpiresAt: at(9),
          }),
          'E_CONFLICT',
        );
        expect(await store.experiments.getExperiment(team, 'match')).toEqual(a2);
        const lost = await store.experiments.updateExperiment(team, 'match', { status: 'lost' }, ['running'], {
          attempt: 2,
          leaseExpiresAt: at(10),
        });
        expect(lost.status).toBe('lost');
      });

      it('concurrent resumes (status + attempt preconditions) from two clients: exactly one succeeds', async () => {
        await store.experiments.createExperiment(experiment(team, 'resume-race', { status: 'finished' }));
        const second = h.another ? await h.another() : store;
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 ? second : store).experiments.updateExperiment(
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
        await store.experiments.createExperiment(experiment(team, 'lease'));
        const second = h.another ? await h.another() : store;
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 ? second : store).experiments.updateExperiment(team, 'lease', { status: 'running', host: `w${i}` }, [
              'queued',
            ]),
          ),
        );
        const won = results.filter((r) => r.status === 'fulfilled');
        expect(won).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe('E_CONFLICT');
        }
        const host = (won[0] as PromiseFulfilledResult<{ host: string | null }>).value.host;
        expect((await store.experiments.getExperiment(team, 'lease'))?.host).toBe(host);
      });

      it('updateExperiment of a missing experiment throws E_NOT_FOUND', async () => {
        await expectCode(store.experiments.updateExperiment(team, 'ghost', { status: 'running' }), 'E_NOT_FOUND');
        await expectCode(
          store.experiments.updateExperiment(team, 'ghost', { status: 'running' }, ['queued']),
          'E_NOT_FOUND',
        );
      });

      it('listExperiments is newest first, filters by project, honours limit and the team', async () => {
        await store.experiments.createExperiment(experiment(team, 'e1', { createdAt: at(1), project: 'p1' }));
        await store.experiments.createExperiment(experiment(team, 'e3', { createdAt: at(3), project: 'p2' }));
        await store.experiments.createExperiment(experiment(team, 'e2', { createdAt: at(2), project: 'p1' }));
        await store.experiments.createExperiment(experiment(team, 'e4', { createdAt: at(4) }));
        await store.experiments.createExperiment(experiment(other, 'x1', { createdAt: at(5), project: 'p1' }));
        const keys = async (q: Parameters<ExperimentStore['listExperiments']>[1], t = team) =>
          (await store.experiments.listExperiments(t, q)).map((e) => e.key);
        expect(await keys({})).toEqual(['e4', 'e3', 'e2', 'e1']);
        expect(await keys({ project: 'p1' })).toEqual(['e2', 'e1']);
        expect(await keys({ limit: 2 })).toEqual(['e4', 'e3']);
        expect(await keys({ project: 'p1', limit: 1 })).toEqual(['e2']);
        expect(await keys({ project: 'none' })).toEqual([]);
        expect(await keys({}, other)).toEqual(['x1']);
        expect(await keys({}, uid('team-c'))).toEqual([]);
        expect((await store.experiments.listExperiments(team, { limit: 1 }))[0]).toEqual(
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
          await store.experiments.createExperiment(experiment(team, key, { createdAt: at(t) }));
        }
        const seen: string[] = [];
        let after: { createdAt: string; key: string } | undefined;
        for (let page = 0; page < 10; page++) {
          const rows = await store.experiments.listExperiments(team, { limit: 2, after });
          if (rows.length === 0) break;
          seen.push(...rows.map((e) => e.key));
          const last = rows[rows.length - 1];
          after = last && { createdAt: last.createdAt, key: last.key };
        }
        expect(seen).toEqual(['e', 'd', 'c', 'b', 'a']);
      });

      it('filters by status and owner, alone, together and with a cursor', async () => {
        await store.experiments.createExperiment(
          experiment(team, 'r1', { createdAt: at(1), status: 'running', owner: 'u1' }),
        );
        await store.experiments.createExperiment(
          experiment(team, 'f1', { createdAt: at(2), status: 'finished', owner: 'u1' }),
        );
        await store.experiments.createExperiment(
          experiment(team, 'f2', { createdAt: at(3), status: 'finished', owner: 'u2' }),
        );
        await store.experiments.createExperiment(
          experiment(team, 'f3', { createdAt: at(4), status: 'finished', owner: 'u1' }),
        );
        await store.experiments.createExperiment(
          experiment(other, 'o1', { createdAt: at(5), status: 'finished', owner: 'u1' }),
        );
        const keys = async (q: Parameters<ExperimentStore['listExperiments']>[1]) =>
          (await store.experiments.listExperiments(team, q)).map((e) => e.key);
        expect(await keys({ status: 'finished' })).toEqual(['f3', 'f2', 'f1']);
        expect(await keys({ owner: 'u1' })).toEqual(['f3', 'f1', 'r1']);
        expect(await keys({ owner: 'u1', status: 'finished' })).toEqual(['f3', 'f1']);
        expect(await keys({ status: 'finished', after: { createdAt: at(4), key: 'f3' } })).toEqual(['f2', 'f1']);
        expect(await keys({ status: 'stopped' })).toEqual([]);
      });
    });

    describe('deleteExperiment', () => {
      it('removes the experiment, its artifacts and versions; returns counts; others untouched; blobs stay', async () => {
        await store.experiments.createExperiment(experiment(team, 'gone'));
        await store.experiments.createExperiment(experiment(team, 'kept'));
        await store.experiments.createExperiment(experiment(other, 'gone'));
        for (const c of ['a', 'b', 'c']) await store.experiments.commitVersion(commit(team, 'gone', 'out', c));
        await store.experiments.commitVersion(commit(team, 'gone', 'ws', 'w', { mutable: false }));
        await store.experiments.commitVersion(commit(team, 'kept', 'out', 'a'));
        await store.experiments.commitVersion(commit(other, 'gone', 'out', 'a'));
        const blob = sha256('blob of gone');
        await store.blobIndex.putBlobs(team, [{ sha256: blob, size: 3, verified: true }]);

        expect(await store.experiments.deleteExperiment(team, 'gone')).toEqual({ artifacts: 2, versions: 4 });
        expect(await store.experiments.getExperiment(team, 'gone')).toBeNull();
        expect(await store.experiments.listArtifacts(team, 'gone')).toEqual([]);
        expect(await store.experiments.listVersions(team, 'gone', 'out')).toEqual([]);
        expect(await store.experiments.getVersion(team, 'gone', 'out')).toBeNull();
        expect(await store.experiments.getVersion(team, 'gone', 'out', 1)).toBeNull();
        expect((await store.experiments.listExperiments(team, {})).map((e) => e.key)).toEqual(['kept']);
        expect(await store.experiments.listVersions(team, 'kept', 'out')).toHaveLength(1);
        expect(await store.experiments.listVersions(other, 'gone', 'out')).toHaveLength(1);
        expect((await store.blobIndex.findBlobs(team, [blob])).get(blob)?.verified).toBe(true);

        // The key is free again, and a new experiment under it starts from version 1.
        await store.experiments.createExperiment(experiment(team, 'gone'));
        expect((await store.experiments.commitVersion(commit(team, 'gone', 'out', 'c'))).version.version).toBe(1);
      });

      it('an experiment without artifacts; E_NOT_FOUND for a missing one (and after deletion)', async () => {
        await store.experiments.createExperiment(experiment(team, 'empty'));
        expect(await store.experiments.deleteExperiment(team, 'empty')).toEqual({ artifacts: 0, versions: 0 });
        await expectCode(store.experiments.deleteExperiment(team, 'empty'), 'E_NOT_FOUND');
        await expectCode(store.experiments.deleteExperiment(other, 'never'), 'E_NOT_FOUND');
      });
    });
  });
  // The versions clauses run as their own block (experiment-versions-suite.ts), with their own fresh ports.
  testExperimentVersions(opts);
}
