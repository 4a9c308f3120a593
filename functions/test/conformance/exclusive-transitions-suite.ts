/**
 * The exclusive transitions of the job core, pinned by races that force the bad interleaving: a port is slowed
 * between the read a transition makes and its compare-and-set, so that N concurrent callers all read the same record
 * before any of them writes. Exactly one may win. Run against every backend (SQLite, Firestore emulator): the
 * guarantee comes from the adapters' compare-and-set, not from the event loop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isStudioError } from '../../src/contract/errors.ts';
import type { LeaseResult } from '../../src/contract/job-model.ts';
import type { Principal } from '../../src/contract/model.ts';
import { createExperimentBody, submitJobBody } from '../../src/contract/schemas.ts';
import type { CoreDeps } from '../../src/core/context.ts';
import { createExperiment, finishExperiment } from '../../src/core/experiments.ts';
import { type CompleteJobInput, checkLease, completeJob, heartbeat, leaseJob, submitJob } from '../../src/core/jobs.ts';
import type { JobStore, MetadataStore } from '../../src/core/ports.ts';
import { uid } from './fixtures.ts';

export interface RaceBackend {
  deps: CoreDeps;
  /** An editor of `team` (personal credential). */
  editor: Principal;
  team: string;
  cleanup(): Promise<void>;
}

const N = 5;
const SLOW_MS = 50;
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** `deps` with the job store's reads answering `SLOW_MS` late: every racer reads before any of them writes. */
function slowReads(deps: CoreDeps): CoreDeps {
  const jobs = deps.jobs as JobStore;
  const slowed: JobStore = Object.create(jobs);
  slowed.listQueued = async (...a) => {
    const r = await jobs.listQueued(...a);
    await sleep(SLOW_MS);
    return r;
  };
  slowed.getJob = async (...a) => {
    const r = await jobs.getJob(...a);
    await sleep(SLOW_MS);
    return r;
  };
  return { ...deps, jobs: slowed };
}

/** `deps` with the metadata store's experiment reads answering `SLOW_MS` late (the resume race). */
function slowExperimentReads(deps: CoreDeps): CoreDeps {
  const meta = deps.meta;
  const slowed: MetadataStore = Object.create(meta);
  slowed.getExperiment = async (...a) => {
    const r = await meta.getExperiment(...a);
    await sleep(SLOW_MS);
    return r;
  };
  return { ...deps, meta: slowed };
}

/** `deps` whose task queue answers `SLOW_MS` late (as Cloud Tasks does under load): the lease schedules first. */
function slowTasks(deps: CoreDeps): CoreDeps {
  const tasks = deps.tasks;
  if (!tasks) return deps;
  const slowed = Object.create(tasks) as typeof tasks;
  slowed.enqueue = async (...a) => {
    await sleep(SLOW_MS);
    return tasks.enqueue(...a);
  };
  return { ...deps, tasks: slowed };
}

export function testExclusiveTransitions(opts: { name: string; make: () => Promise<RaceBackend> }): void {
  describe(`exclusive job transitions under forced races: ${opts.name}`, () => {
    let b: RaceBackend;
    beforeAll(async () => {
      b = await opts.make();
    }, 60_000);
    afterAll(async () => {
      await b?.cleanup();
    });

    async function queued(queue: string): Promise<string> {
      const key = uid('race');
      await createExperiment(b.deps, b.editor, b.team, createExperimentBody.parse({ key, queued: true }));
      await submitJob(b.deps, b.editor, b.team, key, submitJobBody.parse({ queue, spec: { command: ['true'] } }));
      return key;
    }

    const worker = (i: number) => ({ id: `w${i}`, host: `box-${i}`, resources: {} });

    async function leaseRace(deps: CoreDeps, queue: string): Promise<LeaseResult[]> {
      const got = await Promise.all(
        Array.from({ length: N }, (_, i) => leaseJob(deps, b.editor, b.team, queue, worker(i), 0)),
      );
      return got.filter((l): l is LeaseResult => l !== null);
    }

    it(`${N} concurrent leases of one job, the task queue ${SLOW_MS} ms late: exactly one wins`, async () => {
      const queue = uid('q');
      const key = await queued(queue);
      const won = await leaseRace(slowTasks(b.deps), queue);
      expect(won.map((l) => l.job.id)).toEqual([key]);
      const job = await b.deps.jobs?.getJob(b.team, key);
      expect(job?.status).toBe('leased');
      expect(job?.attempt).toBe(1);
      expect(job?.history).toHaveLength(1);
      expect(job?.worker?.id).toBe(won[0]?.job.worker?.id);
    });

    it(`${N} concurrent leases with the job store's reads ${SLOW_MS} ms late: exactly one wins`, async () => {
      const queue = uid('q');
      const key = await queued(queue);
      const won = await leaseRace(slowReads(b.deps), queue);
      expect(won.map((l) => l.job.id)).toEqual([key]);
      expect((await b.deps.jobs?.getJob(b.team, key))?.attempt).toBe(1);
    });

    async function leasedJob(): Promise<{ key: string; lease: LeaseResult; job: Principal }> {
      const queue = uid('q');
      const key = await queued(queue);
      const lease = await leaseJob(b.deps, b.editor, b.team, queue, worker(0), 0);
      if (!lease) throw new Error('no lease');
      const job = await b.deps.identity.authenticate(lease.token);
      return { key, lease, job };
    }

    it(`${N} concurrent completes of one lease (reads ${SLOW_MS} ms late): exactly one wins`, async () => {
      const { key, job } = await leasedJob();
      const deps = slowReads(b.deps);
      const input: CompleteJobInput = {
        status: 'finished',
        exitCode: 0,
        signal: null,
        warnings: [],
        artifacts: {},
        stats: {},
      };
      const results = await Promise.allSettled(
        Array.from({ length: N }, () => completeJob(deps, job, b.team, key, input)),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(isStudioError(r.reason, 'E_LEASE_LOST'), String(r.reason)).toBe(true);
      }
      expect((await b.deps.jobs?.getJob(b.team, key))?.status).toBe('finished');
    });

    // `run --resume` from several shells (each CLI has its own host): every resume reads the experiment before any
    // writes; only the compare-and-set on status and attempt decides.
    async function resumeRace(key: string, deps: CoreDeps) {
      const results = await Promise.allSettled(
        Array.from({ length: N }, (_, i) =>
          createExperiment(
            deps,
            b.editor,
            b.team,
            createExperimentBody.parse({ key, command: [`r${i}`], resume: true }),
          ),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) {
        if (r.status === 'rejected') expect(isStudioError(r.reason, 'E_CONFLICT'), String(r.reason)).toBe(true);
      }
      const e = await b.deps.meta.getExperiment(b.team, key);
      expect(e?.status).toBe('running');
      expect(e?.attempt).toBe(2);
      return e;
    }

    it(`${N} concurrent resumes of an ended run (reads ${SLOW_MS} ms late): exactly one wins`, async () => {
      const key = uid('resume');
      await createExperiment(b.deps, b.editor, b.team, createExperimentBody.parse({ key, command: ['first'] }));
      await finishExperiment(b.deps, b.editor, b.team, key, {
        status: 'failed',
        exitCode: 3,
        signal: null,
        warnings: [],
        attempt: 1,
      });
      const e = await resumeRace(key, slowExperimentReads(b.deps));
      expect(e?.attempts?.map((a) => [a.attempt, a.status, a.exitCode])).toEqual([
        [1, 'failed', 3],
        [2, 'running', null],
      ]);
    });

    it(`${N} concurrent resumes of a run whose lease lapsed (each settles it to lost first): exactly one wins`, async () => {
      const key = uid('resume-lapsed');
      await createExperiment(b.deps, b.editor, b.team, createExperimentBody.parse({ key, command: ['first'] }));
      const created = await b.deps.meta.getExperiment(b.team, key);
      // The clock of every resume is past the lease.
      const later = new Date(Date.parse(created?.leaseExpiresAt as string) + 1000);
      const e = await resumeRace(key, { ...slowExperimentReads(b.deps), now: () => later });
      expect(e?.attempts?.map((a) => a.status)).toEqual(['lost', 'running']);
    });

    it('a heartbeat racing the lease check of an expired lease: one of them wins, never both', async () => {
      const { key, job, lease } = await leasedJob();
      // The check runs just past the deadline it was scheduled for; the heartbeat reads the lease while it is still
      // live and extends it from the real clock, which is later than the check's (>= SLOW_MS after the lease).
      const late = new Date(Date.parse(lease.job.leaseExpiresAt as string) + 1);
      const checkDeps = { ...slowReads(b.deps), now: () => late };
      const [beat, check] = await Promise.allSettled([
        heartbeat(slowReads(b.deps), job, b.team, key),
        checkLease(checkDeps, { team: b.team, id: key, attempt: 1, queuedAt: lease.job.queuedAt }),
      ]);
      const after = await b.deps.jobs?.getJob(b.team, key);
      if (check.status === 'fulfilled' && check.value === 'requeued') {
        // The check won: the heartbeat must not have extended a lease that no longer exists.
        expect(beat.status).toBe('rejected');
        expect(after?.status).toBe('queued');
      } else {
        expect(beat.status, String(beat.status === 'rejected' && beat.reason)).toBe('fulfilled');
        expect(['renewed', 'stale']).toContain(check.status === 'fulfilled' ? check.value : check.reason);
        expect(after?.status).toBe('leased');
      }
    });
  });
}
