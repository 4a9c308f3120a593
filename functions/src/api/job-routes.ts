import { StudioError } from '../contract/errors.ts';
import type { JobStatus } from '../contract/job-model.ts';
import { completeJobBody, leaseBody, stopJobBody, submitJobBody, workerTokenBody } from '../contract/schemas.ts';
import { completeJob, getJob, heartbeat, leaseJob, listJobs, stopJob, submitJob } from '../core/jobs.ts';
import { createWorkerToken } from '../core/worker-tokens.ts';
import { json } from './respond.ts';
import { EXP, p, type Route, readBody, SEG } from './route-kit.ts';

const JOB_STATUSES: JobStatus[] = ['queued', 'leased', 'finished', 'failed', 'stopped', 'lost', 'expired'];

/** Queued runs: submit, lease (workers pull), heartbeat, complete, stop/kill, list (issue 5; docs/api.md). */
export const JOB_ROUTES: Route[] = [
  {
    method: 'POST',
    pattern: new RegExp(`^${EXP}/job$`),
    run: async (c) => {
      const body = await readBody(c.req, submitJobBody);
      return json(201, { job: await submitJob(c.deps, c.principal, c.team, p(c, 0), body) });
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${EXP}/job$`),
    run: async (c) => json(200, { job: await getJob(c.deps, c.principal, c.team, p(c, 0)) }),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${EXP}/stop$`),
    run: async (c) => {
      const body = await readBody(c.req, stopJobBody);
      return json(200, { job: await stopJob(c.deps, c.principal, c.team, p(c, 0), body.mode) });
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/v1/queues/${SEG}/lease$`),
    run: async (c) => {
      const body = await readBody(c.req, leaseBody);
      const lease = await leaseJob(c.deps, c.principal, c.team, p(c, 0), body.worker, body.waitSeconds);
      return json(200, { lease });
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/v1/jobs/${SEG}/heartbeat$`),
    run: async (c) => json(200, await heartbeat(c.deps, c.principal, c.team, p(c, 0))),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^/v1/jobs/${SEG}/complete$`),
    run: async (c) => {
      const body = await readBody(c.req, completeJobBody);
      return json(200, { job: await completeJob(c.deps, c.principal, c.team, p(c, 0), body) });
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/worker-tokens$/,
    run: async (c) => {
      const body = await readBody(c.req, workerTokenBody);
      return json(201, await createWorkerToken(c.deps, c.principal, c.team, body));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/jobs$/,
    run: async (c) => {
      const q = c.url.searchParams;
      const status = q.get('status')?.split(',').filter(Boolean);
      for (const s of status ?? []) {
        if (!(JOB_STATUSES as string[]).includes(s))
          throw new StudioError('E_BAD_REQUEST', `unknown job status "${s}"`);
      }
      const limit = q.has('limit') ? Number(q.get('limit')) : undefined;
      if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
        throw new StudioError('E_BAD_REQUEST', 'limit must be a positive integer');
      }
      const jobs = await listJobs(c.deps, c.principal, c.team, {
        queue: q.get('queue') ?? undefined,
        status: status as JobStatus[] | undefined,
        limit,
      });
      return json(200, { jobs });
    },
  },
];
