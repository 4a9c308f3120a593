import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { JobRecord } from '../../src/contract/job-model.ts';
import type { JobStore } from '../../src/core/ports.ts';
import { at, expectCode, uid } from './fixtures.ts';

export interface JobStoreHarness {
  store: JobStore;
  cleanup(): Promise<void>;
  /** Optional second handle on the same data (another connection or client); the race test then uses both. */
  another?(): Promise<JobStore>;
}

export interface JobStoreSuiteOptions {
  name: string;
  /** A fresh store per test (it may share a backend: every test uses its own team ids). */
  make: () => Promise<JobStoreHarness>;
}

/** A queued job as submitJob builds it (every nullable field null, nothing nested yet). */
export function job(team: string, id: string, over: Partial<JobRecord> = {}): JobRecord {
  return {
    team,
    id,
    queue: 'default',
    owner: 'user-1',
    status: 'queued',
    spec: {
      command: ['python', 'train.py'],
      captures: [{ tag: 'out', path: 'out' }],
      inputs: [],
      reuse: [],
      captureInterval: 60,
      resources: {},
    },
    attempt: 0,
    maxAttempts: 3,
    worker: null,
    leaseExpiresAt: null,
    queuedAt: at(0),
    notAfter: null,
    maxDurationSeconds: null,
    startedAt: null,
    finishedAt: null,
    stopRequested: null,
    stopReason: null,
    exitCode: null,
    signal: null,
    result: null,
    stats: {},
    history: [],
    ...over,
  };
}

/** The JobStore port contract (see core/ports.ts), run against every adapter. */
export function testJobStore(opts: JobStoreSuiteOptions): void {
  describe(`JobStore conformance: ${opts.name}`, () => {
    let h: JobStoreHarness;
    let store: JobStore;
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

    const ids = (jobs: JobRecord[]) => jobs.map((j) => j.id);

    describe('create and get', () => {
      it('createJob then getJob returns the same record, nulls kept; unknown ids and teams give null', async () => {
        const j = job(team, 'exp-1');
        await store.createJob(j);
        const got = await store.getJob(team, 'exp-1');
        expect(got).toEqual(j);
        // toEqual treats undefined like absent: nulls must really be nulls.
        for (const k of ['worker', 'leaseExpiresAt', 'notAfter', 'result', 'stopRequested', 'exitCode'] as const) {
          expect(got?.[k], k).toBeNull();
        }
        expect(await store.getJob(team, 'nope')).toBeNull();
        expect(await store.getJob(uid('team-c'), 'exp-1')).toBeNull();
      });

      it('ids with dots, dashes and underscores are ordinary ids', async () => {
        const j = job(team, 'run.2024-01_v1.final');
        await store.createJob(j);
        expect(await store.getJob(team, 'run.2024-01_v1.final')).toEqual(j);
        expect(await store.getJob(team, 'run')).toBeNull();
      });

      it('E_CONFLICT on a duplicate id; the original stays untouched', async () => {
        const j = job(team, 'dup', { queue: 'first' });
        await store.createJob(j);
        await expectCode(store.createJob(job(team, 'dup', { queue: 'second' })), 'E_CONFLICT');
        expect(await store.getJob(team, 'dup')).toEqual(j);
      });

      it('concurrent creates of one id: exactly one wins, the rest E_CONFLICT', async () => {
        const results = await Promise.allSettled(
          Array.from({ length: 8 }, (_, i) => store.createJob(job(team, 'race-create', { owner: `u${i}` }))),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe('E_CONFLICT');
        }
      });

      it('a job with nested fields (history, result, spec with resources and reuse, stats) round-trips', async () => {
        const j = job(team, 'nested', {
          status: 'finished',
          attempt: 2,
          spec: {
            command: ['python', '-c', 'print("hi")', ''],
            captures: [
              { tag: 'out', path: 'results/out' },
              { tag: 'logs', path: 'logs' },
            ],
            inputs: [
              { tag: 'data', path: 'data/in' },
              { tag: 'cfg', path: null },
            ],
            reuse: [{ as: 'weights', experiment: 'exp.0', tag: 'model', version: 7 }],
            captureInterval: 2.5,
            resources: { gpus: 1, cpus: 8, mem_gb: 31.5 },
          },
          worker: { id: 'w-1', host: 'gpu-box' },
          leaseExpiresAt: at(300),
          notAfter: at(3600),
          maxDurationSeconds: 7200,
          startedAt: at(100),
          finishedAt: at(400),
          stopRequested: 'kill',
          stopReason: 'kill requested by user-1',
          exitCode: -9,
          signal: 'SIGKILL',
          result: { attempt: 2, artifacts: { out: 3, logs: 12 } },
          stats: { downloadedBytes: 123_456_789, downloadedBlobs: 0, seconds: 1.25 },
          history: [
            { attempt: 1, worker: 'w-0', leasedAt: at(10), endedAt: at(80), outcome: 'lease expired' },
            { attempt: 2, worker: 'w-1', leasedAt: at(100), endedAt: null, outcome: null },
          ],
        });
        await store.createJob(j);
        expect(await store.getJob(team, 'nested')).toEqual(j);
        // And after an update that rewrites the nested fields (arrays and maps are replaced, not merged).
        const history = [{ attempt: 1, worker: 'w-0', leasedAt: at(10), endedAt: at(80), outcome: 'done' }];
        const result = { attempt: 2, artifacts: { out: 4 } };
        const updated = await store.updateJob(
          team,
          'nested',
          { history, result, stats: {}, spec: { ...j.spec, resources: {} } },
          { status: ['finished'] },
        );
        const expected = { ...j, history, result, stats: {}, spec: { ...j.spec, resources: {} } };
        expect(updated).toEqual(expected);
        expect(await store.getJob(team, 'nested')).toEqual(expected);
      });
    });

    describe('updateJob (compare-and-set on status and attempt)', () => {
      it('applies the patch when status and attempt match, returns the merged record', async () => {
        await store.createJob(job(team, 'upd'));
        const patch = {
          status: 'leased' as const,
          attempt: 1,
          worker: { id: 'w', host: 'h' },
          leaseExpiresAt: at(60),
          startedAt: at(0),
          history: [{ attempt: 1, worker: 'w', leasedAt: at(0), endedAt: null, outcome: null }],
        };
        const updated = await store.updateJob(team, 'upd', patch, { status: ['queued'], attempt: 0 });
        expect(updated).toEqual({ ...job(team, 'upd'), ...patch });
        expect(await store.getJob(team, 'upd')).toEqual(updated);
      });

      it('a status list matches any of its statuses; attempt is optional', async () => {
        await store.createJob(job(team, 'multi', { status: 'leased', attempt: 2 }));
        const a = await store.updateJob(team, 'multi', { stopRequested: 'stop' }, { status: ['queued', 'leased'] });
        expect(a.stopRequested).toBe('stop');
        const b = await store.updateJob(team, 'multi', { status: 'stopped' }, { status: ['leased'], attempt: 2 });
        expect(b).toMatchObject({ status: 'stopped', attempt: 2, stopRequested: 'stop' });
      });

      it('fields left out of the patch (or undefined in it) keep their values', async () => {
        const j = job(team, 'keep', { notAfter: at(99), stats: { a: 1 } });
        await store.createJob(j);
        const updated = await store.updateJob(
          team,
          'keep',
          { stopReason: 'why', notAfter: undefined },
          { status: ['queued'] },
        );
        expect(updated).toEqual({ ...j, stopReason: 'why' });
        expect(await store.getJob(team, 'keep')).toEqual({ ...j, stopReason: 'why' });
      });

      it('the patch cannot move a job to another team or id', async () => {
        const j = job(team, 'pinned');
        await store.createJob(j);
        const sneaky = { team: other, id: 'elsewhere', stopReason: 'x' } as unknown as Partial<JobRecord>;
        const updated = await store.updateJob(team, 'pinned', sneaky, { status: ['queued'] });
        expect(updated).toMatchObject({ team, id: 'pinned', stopReason: 'x' });
        expect(await store.getJob(other, 'elsewhere')).toBeNull();
        expect(await store.getJob(team, 'pinned')).toEqual({ ...j, stopReason: 'x' });
      });

      it('wrong status -> E_CONFLICT and nothing changed', async () => {
        const j = job(team, 'cas-status');
        await store.createJob(j);
        await expectCode(
          store.updateJob(team, 'cas-status', { status: 'finished', exitCode: 0 }, { status: ['leased'] }),
          'E_CONFLICT',
        );
        await expectCode(
          store.updateJob(team, 'cas-status', { status: 'finished' }, { status: ['leased', 'finished'], attempt: 0 }),
          'E_CONFLICT',
        );
        await expectCode(store.updateJob(team, 'cas-status', { status: 'finished' }, { status: [] }), 'E_CONFLICT');
        expect(await store.getJob(team, 'cas-status')).toEqual(j);
      });

      it('a lease deadline in the precondition must equal the stored one (a lease check vs a heartbeat)', async () => {
        const j = job(team, 'cas-lease', { status: 'leased', attempt: 1, leaseExpiresAt: at(60) });
        await store.createJob(j);
        const moved = { status: ['leased' as const], attempt: 1, leaseExpiresAt: at(30) };
        await expectCode(store.updateJob(team, 'cas-lease', { status: 'queued' }, moved), 'E_CONFLICT');
        expect(await store.getJob(team, 'cas-lease')).toEqual(j);
        const same = { status: ['leased' as const], attempt: 1, leaseExpiresAt: at(60) };
        expect((await store.updateJob(team, 'cas-lease', { status: 'queued' }, same)).status).toBe('queued');
      });

      it('wrong attempt -> E_CONFLICT and nothing changed', async () => {
        const j = job(team, 'cas-attempt', { status: 'leased', attempt: 2 });
        await store.createJob(j);
        for (const attempt of [0, 1, 3]) {
          await expectCode(
            store.updateJob(team, 'cas-attempt', { leaseExpiresAt: at(999) }, { status: ['leased'], attempt }),
            'E_CONFLICT',
          );
        }
        expect(await store.getJob(team, 'cas-attempt')).toEqual(j);
      });

      it('unknown job or team -> E_NOT_FOUND', async () => {
        await store.createJob(job(team, 'known'));
        await expectCode(store.updateJob(team, 'unknown', { stopReason: 'x' }, { status: ['queued'] }), 'E_NOT_FOUND');
        await expectCode(store.updateJob(other, 'known', { stopReason: 'x' }, { status: ['queued'] }), 'E_NOT_FOUND');
      });

      it('race: 10 concurrent queued->leased (attempt 0) from two store instances, exactly one wins', async () => {
        await store.createJob(job(team, 'race'));
        const second = h.another ? await h.another() : store;
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, (_, i) =>
            (i % 2 ? second : store).updateJob(
              team,
              'race',
              {
                status: 'leased',
                attempt: 1,
                worker: { id: `w${i}`, host: `h${i}` },
                history: [{ attempt: 1, worker: `w${i}`, leasedAt: at(i), endedAt: null, outcome: null }],
              },
              { status: ['queued'], attempt: 0 },
            ),
          ),
        );
        const won = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<JobRecord>[];
        expect(won).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe('E_CONFLICT');
        }
        const winner = won[0]?.value as JobRecord;
        const stored = await store.getJob(team, 'race');
        expect(stored).toEqual(winner);
        expect(stored?.history).toHaveLength(1);
        expect(stored?.history[0]?.worker).toBe(winner.worker?.id);
        expect(await second.getJob(team, 'race')).toEqual(winner);
      });
    });

    describe('deleteJob (compare-and-set on status)', () => {
      it('removes a job whose status is allowed; the id can be created again; absent ids are a no-op', async () => {
        await store.createJob(job(team, 'gone', { status: 'stopped' }));
        await store.createJob(job(team, 'stays', { status: 'stopped' }));
        await store.deleteJob(team, 'gone', { status: ['stopped', 'finished'] });
        expect(await store.getJob(team, 'gone')).toBeNull();
        expect((await store.getJob(team, 'stays'))?.status).toBe('stopped');
        expect((await store.listJobs(team, {})).map((j) => j.id)).toEqual(['stays']);
        await store.createJob(job(team, 'gone', { queuedAt: at(5) }));
        expect((await store.getJob(team, 'gone'))?.queuedAt).toBe(at(5));
        await expect(store.deleteJob(team, 'never', { status: ['stopped'] })).resolves.toBeUndefined();
        await expect(store.deleteJob(uid('nobody'), 'gone', { status: ['queued'] })).resolves.toBeUndefined();
        expect(await store.getJob(team, 'gone')).not.toBeNull();
      });

      it('a status outside the list -> E_CONFLICT with details.status, and the job stays', async () => {
        await store.createJob(job(team, 'live', { status: 'leased', attempt: 1 }));
        const err = await expectCode(store.deleteJob(team, 'live', { status: ['finished', 'stopped'] }), 'E_CONFLICT');
        expect((err as { details?: unknown }).details).toMatchObject({ status: 'leased' });
        expect((await store.getJob(team, 'live'))?.status).toBe('leased');
        expect((await store.listQueued(team, 'default', 10)).length).toBe(0);
      });

      it('a deleted queued job leaves the queue', async () => {
        await store.createJob(job(team, 'q1'));
        await store.deleteJob(team, 'q1', { status: ['queued'] });
        expect(await store.listQueued(team, 'default', 10)).toEqual([]);
      });
    });

    describe('listQueued', () => {
      it('oldest queuedAt first; only queued jobs of that queue and team; limit respected', async () => {
        const jobs = [
          job(team, 'q3', { queuedAt: at(30) }),
          job(team, 'q1', { queuedAt: at(10) }),
          job(team, 'q2', { queuedAt: at(20) }),
          job(team, 'q4', { queuedAt: at(40) }),
          job(team, 'leased', { queuedAt: at(5), status: 'leased', attempt: 1 }),
          job(team, 'done', { queuedAt: at(6), status: 'finished', attempt: 1 }),
          job(team, 'stopped', { queuedAt: at(7), status: 'stopped' }),
          job(team, 'other-queue', { queuedAt: at(1), queue: 'gpu' }),
          job(other, 'other-team', { queuedAt: at(2) }),
        ];
        for (const j of jobs) await store.createJob(j);
        expect(ids(await store.listQueued(team, 'default', 100))).toEqual(['q1', 'q2', 'q3', 'q4']);
        expect(ids(await store.listQueued(team, 'default', 2))).toEqual(['q1', 'q2']);
        expect(ids(await store.listQueued(team, 'default', 1))).toEqual(['q1']);
        expect(ids(await store.listQueued(team, 'gpu', 10))).toEqual(['other-queue']);
        expect(ids(await store.listQueued(other, 'default', 10))).toEqual(['other-team']);
        expect(await store.listQueued(team, 'nobody-uses-this', 10)).toEqual([]);
        expect(await store.listQueued(uid('team-c'), 'default', 10)).toEqual([]);
        // Whole records, not projections.
        expect((await store.listQueued(team, 'default', 1))[0]).toEqual(jobs[1]);
      });

      it('follows updates: a leased job leaves the list, a requeued one comes back', async () => {
        await store.createJob(job(team, 'a', { queuedAt: at(1) }));
        await store.createJob(job(team, 'b', { queuedAt: at(2) }));
        await store.updateJob(team, 'a', { status: 'leased', attempt: 1 }, { status: ['queued'], attempt: 0 });
        expect(ids(await store.listQueued(team, 'default', 10))).toEqual(['b']);
        await store.updateJob(team, 'a', { status: 'queued' }, { status: ['leased'], attempt: 1 });
        expect(ids(await store.listQueued(team, 'default', 10))).toEqual(['a', 'b']);
        await store.updateJob(team, 'b', { queuedAt: at(0) }, { status: ['queued'] });
        expect(ids(await store.listQueued(team, 'default', 10))).toEqual(['b', 'a']);
      });
    });

    describe('listJobs', () => {
      beforeEach(async () => {
        const specs: [string, string, JobRecord['status'], number][] = [
          ['j1', 'default', 'finished', 10],
          ['j2', 'gpu', 'queued', 20],
          ['j3', 'default', 'leased', 30],
          ['j4', 'default', 'queued', 40],
          ['j5', 'gpu', 'failed', 50],
        ];
        for (const [id, queue, status, t] of specs) {
          await store.createJob(
            job(team, id, { queue, status, queuedAt: at(t), attempt: status === 'queued' ? 0 : 1 }),
          );
        }
        await store.createJob(job(other, 'x1', { queuedAt: at(60) }));
      });

      it('newest queuedAt first, whole records, limit respected', async () => {
        const all = await store.listJobs(team, {});
        expect(ids(all)).toEqual(['j5', 'j4', 'j3', 'j2', 'j1']);
        expect(all[0]).toEqual(job(team, 'j5', { queue: 'gpu', status: 'failed', queuedAt: at(50), attempt: 1 }));
        expect(ids(await store.listJobs(team, { limit: 2 }))).toEqual(['j5', 'j4']);
      });

      it('filters by queue, by statuses, by both; limit applies after filtering', async () => {
        expect(ids(await store.listJobs(team, { queue: 'default' }))).toEqual(['j4', 'j3', 'j1']);
        expect(ids(await store.listJobs(team, { status: ['queued'] }))).toEqual(['j4', 'j2']);
        expect(ids(await store.listJobs(team, { status: ['queued', 'leased'] }))).toEqual(['j4', 'j3', 'j2']);
        expect(ids(await store.listJobs(team, { queue: 'gpu', status: ['queued'] }))).toEqual(['j2']);
        expect(ids(await store.listJobs(team, { queue: 'default', status: ['failed'] }))).toEqual([]);
        expect(ids(await store.listJobs(team, { queue: 'default', limit: 2 }))).toEqual(['j4', 'j3']);
        expect(ids(await store.listJobs(team, { status: ['finished', 'failed'], limit: 1 }))).toEqual(['j5']);
        expect(await store.listJobs(team, { queue: 'none' })).toEqual([]);
      });

      it('teams are isolated: same id in two teams, invisible across', async () => {
        await store.createJob(job(other, 'j1', { queue: 'other-q', queuedAt: at(70) }));
        expect(ids(await store.listJobs(other, {}))).toEqual(['j1', 'x1']);
        expect((await store.getJob(other, 'j1'))?.queue).toBe('other-q');
        expect((await store.getJob(team, 'j1'))?.queue).toBe('default');
        await store.updateJob(other, 'j1', { stopReason: 'other' }, { status: ['queued'] });
        expect((await store.getJob(team, 'j1'))?.stopReason).toBeNull();
        expect(await store.listJobs(uid('team-c'), {})).toEqual([]);
      });
    });
  });
}
