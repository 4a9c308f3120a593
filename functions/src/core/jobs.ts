import { createHash } from 'node:crypto';
import { isStudioError, StudioError } from '../contract/errors.ts';
import type { LeaseResult } from '../contract/job-model.ts';
import { JOB_TERMINAL, type JobRecord, type JobSpec, type JobStatus } from '../contract/job-model.ts';
import { isSafeRelativePath } from '../contract/manifest.ts';
import type { ExperimentRecord, Principal } from '../contract/model.ts';
import { assertExperimentKey, assertQueue, assertTag } from '../contract/names.ts';
import { redactArgv, redactText } from '../contract/redact.ts';
import { requireQueueWorker, requireRole } from './authz.ts';
import type { CoreDeps } from './context.ts';
import { revokeJobTokens } from './job-tokens.ts';
import type { JobStore } from './ports.ts';
import type { TaskQueue } from './task-queue.ts';
import { mintToken } from './tokens.ts';

/** Internal task routes (api/internal-handler.ts) that keep jobs honest when nobody is watching. */
export const LEASE_CHECK_ROUTE = '/internal/tasks/lease-check';
export const JOB_DEADLINE_ROUTE = '/internal/tasks/job-deadline';

export const MAX_LIFETIME_SECONDS = 30 * 24 * 3600;
export const MAX_DURATION_SECONDS = 30 * 24 * 3600;
/** A job token outlives any lease by at most this; each request also checks that its lease is still live. */
const JOB_TOKEN_SLACK_SECONDS = 3600;

export interface JobSettings {
  /** Lease length; a worker heartbeats every third of it (default 60 s). */
  leaseSeconds: number;
  /** Leases a job may take before it is declared lost (default 3). */
  maxAttempts: number;
  /** How often a waiting lease request looks at the queue (ms). */
  pollMs: number;
  /** Longest a lease request waits for a job (s). */
  maxWaitSeconds: number;
}

export const DEFAULT_JOB_SETTINGS: JobSettings = { leaseSeconds: 60, maxAttempts: 3, pollMs: 200, maxWaitSeconds: 20 };

function store(deps: CoreDeps): JobStore {
  if (!deps.jobs) throw new StudioError('E_UNAVAILABLE', 'this backend has no job queue configured');
  return deps.jobs;
}

function settings(deps: CoreDeps): JobSettings {
  return { ...DEFAULT_JOB_SETTINGS, ...deps.jobSettings };
}

/** Task names may only hold [A-Za-z0-9_-]; team and job ids may hold '.', so they are hashed. */
function taskId(...parts: (string | number)[]): string {
  return createHash('sha256').update(parts.join('\0')).digest('hex').slice(0, 40);
}

/**
 * Which job under a key a task belongs to: a key can be queued again after its experiment was deleted, and a task of
 * the earlier job (same name otherwise, so Cloud Tasks would refuse the new one as a duplicate) must not act on it.
 */
function generation(job: Pick<JobRecord, 'queuedAt'>): string {
  return String(Date.parse(job.queuedAt));
}

/** A task whose job was replaced by a later one under the same key (tasks from before this field carry none). */
const otherGeneration = (job: JobRecord, t: { queuedAt?: string | undefined }) =>
  t.queuedAt !== undefined && t.queuedAt !== job.queuedAt;

async function schedule(deps: CoreDeps, route: string, name: string, body: unknown, at: Date): Promise<void> {
  const tasks: TaskQueue | undefined = deps.tasks;
  if (!tasks) return;
  await tasks.enqueue({ name, route, body, scheduleTime: at });
}

const addSeconds = (d: Date, s: number) => new Date(d.getTime() + s * 1000);

/**
 * A job as shown to anyone but its worker: the spec keeps the real argv (the worker runs it; the experiment record
 * only has the redacted one), so every other answer redacts it like the experiment's command.
 */
function shown(job: JobRecord): JobRecord {
  return { ...job, spec: { ...job.spec, command: redactArgv(job.spec.command) } };
}

/** Queued jobs a lease request looks at first; a page of jobs the worker cannot run makes it look further. */
const LEASE_SCAN_FIRST = 25;
const LEASE_SCAN_MAX = 1000;

export interface SubmitJobInput {
  queue: string;
  /** `reuse` is taken from the experiment's recorded lineage, never from the client. */
  spec: Omit<JobSpec, 'reuse'>;
  lifetimeSeconds?: number | undefined;
  maxDurationSeconds?: number | undefined;
  maxAttempts?: number | undefined;
}

/**
 * Queues an experiment registered with status `queued` whose immutable artifacts are already captured. Nothing is
 * stored when the input is invalid or the experiment is not queued. Throws E_CONFLICT when it already has a job.
 */
export async function submitJob(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  input: SubmitJobInput,
): Promise<JobRecord> {
  requireRole(p, team, 'editor');
  assertExperimentKey(key);
  assertQueue(input.queue);
  for (const c of [...input.spec.captures, ...input.spec.inputs]) {
    assertTag(c.tag);
    if (c.path !== null && !isSafeRelativePath(c.path)) {
      throw new StudioError('E_BAD_PATH', `${c.tag}: path "${c.path.slice(0, 200)}" must be relative to the workspace`);
    }
  }
  const exp = await deps.meta.getExperiment(team, key);
  if (!exp) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  if (exp.status !== 'queued') throw new StudioError('E_CONFLICT', `experiment ${key} is ${exp.status}, not queued`);
  const s = settings(deps);
  const now = deps.now();
  const job: JobRecord = {
    team,
    id: key,
    queue: input.queue,
    owner: p.userId,
    status: 'queued',
    spec: { ...input.spec, reuse: exp.lineage },
    attempt: 0,
    maxAttempts: input.maxAttempts ?? s.maxAttempts,
    worker: null,
    leaseExpiresAt: null,
    queuedAt: now.toISOString(),
    notAfter: input.lifetimeSeconds ? addSeconds(now, input.lifetimeSeconds).toISOString() : null,
    maxDurationSeconds: input.maxDurationSeconds ?? null,
    startedAt: null,
    finishedAt: null,
    stopRequested: null,
    stopReason: null,
    exitCode: null,
    signal: null,
    result: null,
    stats: {},
    history: [],
  };
  await store(deps).createJob(job);
  // One named task per job: drops it at its --lifetime deadline if no worker took it (the name dedups retries).
  // A second late, like the lease check: delivered a hair early (another clock), it would find the job not yet
  // expired and end as 'stale', leaving the job queued past its lifetime.
  if (job.notAfter) {
    await schedule(
      deps,
      JOB_DEADLINE_ROUTE,
      `job-${taskId(team, key)}-${generation(job)}-lifetime`,
      { team, id: key, kind: 'lifetime', queuedAt: job.queuedAt },
      new Date(Date.parse(job.notAfter) + 1000),
    );
  }
  return shown(job);
}

/** Numeric resources a job needs must all be offered by the worker (missing = 0). */
export function fits(need: Record<string, number>, offer: Record<string, number>): boolean {
  return Object.entries(need).every(([k, v]) => (offer[k] ?? 0) >= v);
}

/** Ends a queued job that waited past --lifetime. Returns true if it did (false: someone else moved it first). */
async function expireJob(deps: CoreDeps, job: JobRecord): Promise<boolean> {
  const now = deps.now().toISOString();
  try {
    await store(deps).updateJob(
      job.team,
      job.id,
      { status: 'expired', finishedAt: now, stopReason: 'waited longer than its --lifetime' },
      { status: ['queued'], attempt: job.attempt },
    );
  } catch (err) {
    if (isStudioError(err, 'E_CONFLICT')) return false;
    throw err;
  }
  await moveExperiment(deps, job, 'expired', ['queued'], {
    warnings: ['dropped: waited in the queue longer than its --lifetime'],
  });
  return true;
}

async function moveExperiment(
  deps: CoreDeps,
  job: JobRecord,
  status: ExperimentRecord['status'],
  from: ExperimentRecord['status'][],
  extra: { exitCode?: number | null; signal?: string | null; warnings?: string[]; startedAt?: string } = {},
): Promise<void> {
  const cur = await deps.meta.getExperiment(job.team, job.id);
  if (!cur) return;
  const terminal = JOB_TERMINAL.includes(status as JobStatus);
  try {
    await deps.meta.updateExperiment(
      job.team,
      job.id,
      {
        status,
        ...(terminal ? { finishedAt: deps.now().toISOString() } : {}),
        ...(extra.startedAt ? { startedAt: extra.startedAt } : {}),
        ...(extra.exitCode !== undefined ? { exitCode: extra.exitCode } : {}),
        ...(extra.signal !== undefined ? { signal: extra.signal } : {}),
        ...(extra.warnings ? { warnings: [...cur.warnings, ...extra.warnings].slice(0, 10_000) } : {}),
      },
      from,
    );
  } catch (err) {
    // The job record is the source of truth; an experiment already moved by a racing call is left as it is.
    if (!isStudioError(err, 'E_CONFLICT')) throw err;
  }
}

/**
 * Gives the caller the oldest queued job of `queue` it can run, waiting up to `waitSeconds` for one (workers sit
 * behind NAT, so they ask; they are never called). A compare-and-set on (status, attempt) makes the lease exclusive.
 * Returns null when nothing came within the wait.
 */
export async function leaseJob(
  deps: CoreDeps,
  p: Principal,
  team: string,
  queue: string,
  worker: { id: string; host: string; resources: Record<string, number> },
  waitSeconds: number,
): Promise<LeaseResult | null> {
  assertQueue(queue);
  requireQueueWorker(p, team, queue);
  const s = settings(deps);
  const jobs = store(deps);
  const until = Date.now() + Math.min(Math.max(waitSeconds, 0), s.maxWaitSeconds) * 1000;
  let scan = LEASE_SCAN_FIRST;
  for (;;) {
    const candidates = await jobs.listQueued(team, queue, scan);
    let unfit = 0;
    for (const c of candidates) {
      const now = deps.now();
      if (c.notAfter && Date.parse(c.notAfter) <= now.getTime()) {
        await expireJob(deps, c);
        continue;
      }
      if (!fits(c.spec.resources, worker.resources)) {
        unfit++;
        continue;
      }
      const attempt = c.attempt + 1;
      const leaseExpiresAt = addSeconds(now, s.leaseSeconds).toISOString();
      // The lease check exists before the lease does: when it cannot be scheduled (Cloud Tasks unavailable) the job
      // stays queued, instead of leased to a worker that got an error and with nothing to ever take it back. A check
      // for a lease then won by a faster worker is harmless: checkLease looks at the lease as it is when it runs.
      await scheduleLeaseCheck(deps, { ...c, attempt, leaseExpiresAt });
      // The token is bound to this job instance (key + queuedAt) and attempt, and minted before the lease so its id
      // is in the history: whatever ends the lease revokes it (job-tokens.ts). A lost race revokes it at once.
      const tokenTtl = (c.maxDurationSeconds ?? 7 * 24 * 3600) + JOB_TOKEN_SLACK_SECONDS;
      const { secret, record } = await mintToken(deps.meta, {
        userId: c.owner,
        kind: 'job',
        scopes: ['job'],
        expiresAt: addSeconds(now, tokenTtl),
        now,
        binding: {
          team,
          experiment: c.id,
          attempt,
          queuedAt: c.queuedAt,
          reads: c.spec.reuse.map(({ experiment, tag, version }) => ({ experiment, tag, version })),
        },
        label: `job ${c.id} attempt ${attempt} on ${worker.host}`,
      });
      let job: JobRecord;
      try {
        job = await jobs.updateJob(
          team,
          c.id,
          {
            status: 'leased',
            attempt,
            worker: { id: worker.id, host: worker.host },
            leaseExpiresAt,
            startedAt: now.toISOString(),
            stopRequested: null,
            stopReason: null,
            history: [
              ...c.history,
              {
                attempt,
                worker: worker.id,
                leasedAt: now.toISOString(),
                endedAt: null,
                outcome: null,
                tokenId: record.id,
              },
            ],
          },
          { status: ['queued'], attempt: c.attempt },
        );
      } catch (err) {
        await deps.meta.revokeToken(record.id, now.toISOString());
        if (isStudioError(err, 'E_CONFLICT')) continue; // another worker was faster
        throw err;
      }
      await moveExperiment(deps, job, 'running', ['queued'], { startedAt: now.toISOString() });
      if (job.maxDurationSeconds) {
        await schedule(
          deps,
          JOB_DEADLINE_ROUTE,
          `job-${taskId(team, job.id)}-${generation(job)}-maxdur-${attempt}`,
          { team, id: job.id, kind: 'max-duration', attempt, queuedAt: job.queuedAt },
          addSeconds(now, job.maxDurationSeconds),
        );
      }
      return {
        job,
        token: secret,
        leaseSeconds: s.leaseSeconds,
        heartbeatSeconds: Math.max(1, Math.min(5, s.leaseSeconds / 3)),
      };
    }
    // A full page of jobs needing resources this worker lacks must not starve it of a job further down: look at a
    // longer page (at once, and on every later poll of this request).
    if (unfit === candidates.length && candidates.length === scan && scan < LEASE_SCAN_MAX) {
      scan = Math.min(LEASE_SCAN_MAX, scan * 8);
      continue;
    }
    if (Date.now() + s.pollMs > until) return null;
    await new Promise((r) => setTimeout(r, s.pollMs));
  }
}

async function scheduleLeaseCheck(deps: CoreDeps, job: JobRecord): Promise<void> {
  if (!job.leaseExpiresAt) return;
  const at = new Date(Date.parse(job.leaseExpiresAt) + 1000);
  await schedule(
    deps,
    LEASE_CHECK_ROUTE,
    `lease-${taskId(job.team, job.id)}-${generation(job)}-${job.attempt}-${at.getTime()}`,
    { team: job.team, id: job.id, attempt: job.attempt, queuedAt: job.queuedAt },
    at,
  );
}

/**
 * For a job token: the job it is bound to, if that attempt still holds a live lease. Throws E_LEASE_LOST otherwise
 * (the lease expired, the job moved on to another attempt, or it ended), so a superseded worker can change nothing.
 */
export async function requireLiveJob(deps: CoreDeps, p: Principal): Promise<JobRecord> {
  const b = p.binding;
  if (p.kind !== 'job' || !b?.experiment || b.attempt === undefined) {
    throw new StudioError('E_FORBIDDEN', 'this needs a job token');
  }
  const job = await store(deps).getJob(b.team, b.experiment);
  const live =
    job &&
    job.status === 'leased' &&
    job.attempt === b.attempt &&
    job.queuedAt === b.queuedAt &&
    job.leaseExpiresAt !== null &&
    Date.parse(job.leaseExpiresAt) > deps.now().getTime();
  if (!live || !job) {
    throw new StudioError('E_LEASE_LOST', `the lease of job ${b.experiment} attempt ${b.attempt} has ended`);
  }
  return job;
}

function requireOwnJob(p: Principal, team: string, id: string): void {
  if (p.kind !== 'job' || p.binding?.team !== team || p.binding.experiment !== id) {
    throw new StudioError('E_FORBIDDEN', `only the job token of ${id} may do this`);
  }
}

/** Extends the lease; answers whether the user asked to stop or kill the run. */
export async function heartbeat(
  deps: CoreDeps,
  p: Principal,
  team: string,
  id: string,
): Promise<{ leaseExpiresAt: string; stop: JobRecord['stopRequested']; stopReason: string | null }> {
  requireOwnJob(p, team, id);
  const job = await requireLiveJob(deps, p);
  const leaseExpiresAt = addSeconds(deps.now(), settings(deps).leaseSeconds).toISOString();
  let next: JobRecord;
  try {
    next = await store(deps).updateJob(team, id, { leaseExpiresAt }, { status: ['leased'], attempt: job.attempt });
  } catch (err) {
    if (isStudioError(err, 'E_CONFLICT')) throw new StudioError('E_LEASE_LOST', `the lease of job ${id} has ended`);
    throw err;
  }
  return { leaseExpiresAt, stop: next.stopRequested, stopReason: next.stopReason };
}

export interface CompleteJobInput {
  status: 'finished' | 'failed' | 'stopped';
  exitCode: number | null;
  signal: string | null;
  warnings: string[];
  /** Latest version of each artifact this attempt committed: recorded as the run's result. */
  artifacts: Record<string, number>;
  stats: Record<string, number>;
}

/** Finalizes the job and its experiment, once, from the attempt that holds the lease. */
export async function completeJob(
  deps: CoreDeps,
  p: Principal,
  team: string,
  id: string,
  input: CompleteJobInput,
): Promise<JobRecord> {
  requireOwnJob(p, team, id);
  const job = await requireLiveJob(deps, p);
  for (const [tag, version] of Object.entries(input.artifacts)) {
    assertTag(tag);
    const v = await deps.meta.getVersion(team, id, tag, version);
    if (!v) throw new StudioError('E_NOT_FOUND', `artifact ${id}/${tag}@${version} not found`);
  }
  const status = job.stopRequested && input.status === 'failed' ? 'stopped' : input.status;
  const now = deps.now().toISOString();
  let done: JobRecord;
  try {
    done = await store(deps).updateJob(
      team,
      id,
      {
        status,
        finishedAt: now,
        exitCode: input.exitCode,
        signal: input.signal,
        result: { attempt: job.attempt, artifacts: input.artifacts },
        stats: input.stats,
        leaseExpiresAt: null,
        history: job.history.map((h) => (h.attempt === job.attempt ? { ...h, endedAt: now, outcome: status } : h)),
      },
      { status: ['leased'], attempt: job.attempt },
    );
  } catch (err) {
    if (isStudioError(err, 'E_CONFLICT')) throw new StudioError('E_LEASE_LOST', `the lease of job ${id} has ended`);
    throw err;
  }
  await revokeJobTokens(deps, done, job.attempt);
  // Redacted like finishExperiment's warnings: they end up in the experiment record.
  const warnings = [...input.warnings.map(redactText), ...(job.stopReason ? [`stopped: ${job.stopReason}`] : [])];
  await moveExperiment(deps, done, status, ['running'], { exitCode: input.exitCode, signal: input.signal, warnings });
  return done;
}

/**
 * `studio-lite stop|kill EXP`: a queued job ends at once (stopped); a leased one is flagged and its worker sends
 * SIGTERM (stop) or SIGKILL (kill) on its next heartbeat, captures, and completes as stopped.
 */
export async function stopJob(
  deps: CoreDeps,
  p: Principal,
  team: string,
  id: string,
  mode: 'stop' | 'kill',
): Promise<JobRecord> {
  requireRole(p, team, 'editor');
  assertExperimentKey(id);
  const jobs = store(deps);
  for (let i = 0; i < 5; i++) {
    const job = await jobs.getJob(team, id);
    if (!job)
      throw new StudioError('E_NOT_FOUND', `experiment ${id} has no queued job (a local run stops with Ctrl-C)`);
    if (JOB_TERMINAL.includes(job.status))
      throw new StudioError('E_CONFLICT', `job ${id} already ended (${job.status})`);
    const reason = `${mode} requested by ${p.userId}`;
    try {
      if (job.status === 'queued') {
        const done = await jobs.updateJob(
          team,
          id,
          { status: 'stopped', finishedAt: deps.now().toISOString(), stopRequested: mode, stopReason: reason },
          { status: ['queued'], attempt: job.attempt },
        );
        await moveExperiment(deps, done, 'stopped', ['queued'], { warnings: [`stopped before it started: ${reason}`] });
        return shown(done);
      }
      return shown(
        await jobs.updateJob(
          team,
          id,
          { stopRequested: job.stopRequested === 'kill' ? 'kill' : mode, stopReason: reason },
          { status: ['leased'], attempt: job.attempt },
        ),
      );
    } catch (err) {
      if (!isStudioError(err, 'E_CONFLICT')) throw err; // raced with a lease or requeue: look again
    }
  }
  throw new StudioError('E_UNAVAILABLE', `job ${id} keeps changing; try again`);
}

export async function getJob(deps: CoreDeps, p: Principal, team: string, id: string): Promise<JobRecord> {
  const own = p.kind === 'job' && p.binding?.team === team && p.binding.experiment === id;
  if (!own) requireRole(p, team, 'viewer');
  const job = await store(deps).getJob(team, assertExperimentKey(id));
  if (!job) throw new StudioError('E_NOT_FOUND', `experiment ${id} has no job`);
  return own ? job : shown(job);
}

export async function listJobs(
  deps: CoreDeps,
  p: Principal,
  team: string,
  q: { queue?: string | undefined; status?: JobStatus[] | undefined; limit?: number | undefined },
): Promise<JobRecord[]> {
  requireRole(p, team, 'viewer');
  if (q.queue) assertQueue(q.queue);
  return (await store(deps).listJobs(team, q)).map(shown);
}

/**
 * Task: a lease deadline passed. If that attempt still holds the lease and did not renew it, the job goes back to
 * the queue (or is lost after maxAttempts; stopped if it was being stopped); if it was renewed, check again at the
 * new deadline. Idempotent: a stale task finds another attempt or status and does nothing.
 */
export async function checkLease(
  deps: CoreDeps,
  t: { team: string; id: string; attempt: number; queuedAt?: string | undefined },
): Promise<'requeued' | 'lost' | 'stopped' | 'renewed' | 'stale'> {
  // A heartbeat that lands between the read and the write moves the deadline, which fails the compare-and-set: look
  // again (the lease is then live, so the check is rescheduled). Bounded, because each round needs a new heartbeat.
  for (let round = 0; ; round++) {
    const r = await checkLeaseOnce(deps, t);
    if (r !== 'moved') return r;
    if (round >= 10) return 'stale';
  }
}

async function checkLeaseOnce(
  deps: CoreDeps,
  t: { team: string; id: string; attempt: number; queuedAt?: string | undefined },
): Promise<'requeued' | 'lost' | 'stopped' | 'renewed' | 'stale' | 'moved'> {
  const jobs = store(deps);
  const job = await jobs.getJob(t.team, t.id);
  if (job?.status !== 'leased' || job.attempt !== t.attempt || !job.leaseExpiresAt) return 'stale';
  if (otherGeneration(job, t)) return 'stale';
  const now = deps.now();
  if (Date.parse(job.leaseExpiresAt) > now.getTime()) {
    await scheduleLeaseCheck(deps, job);
    return 'renewed';
  }
  const at = now.toISOString();
  const ended = (outcome: string) =>
    job.history.map((h) => (h.attempt === job.attempt ? { ...h, endedAt: at, outcome } : h));
  const outcome: 'requeued' | 'lost' | 'stopped' = job.stopRequested
    ? 'stopped'
    : job.attempt >= job.maxAttempts
      ? 'lost'
      : 'requeued';
  try {
    if (outcome === 'requeued') {
      const next = await jobs.updateJob(
        t.team,
        t.id,
        { status: 'queued', worker: null, leaseExpiresAt: null, history: ended('lease expired') },
        { status: ['leased'], attempt: job.attempt, leaseExpiresAt: job.leaseExpiresAt },
      );
      await moveExperiment(deps, next, 'queued', ['running']);
    } else {
      const next = await jobs.updateJob(
        t.team,
        t.id,
        {
          status: outcome,
          worker: null,
          leaseExpiresAt: null,
          finishedAt: at,
          history: ended(`lease expired (${outcome})`),
        },
        { status: ['leased'], attempt: job.attempt, leaseExpiresAt: job.leaseExpiresAt },
      );
      const why =
        outcome === 'lost'
          ? `lost: no worker finished it in ${job.maxAttempts} attempts (last worker went silent)`
          : `stopped: ${job.stopReason ?? 'stop requested'}; the worker went silent`;
      await moveExperiment(deps, next, outcome, ['running'], { warnings: [why] });
    }
  } catch (err) {
    if (!isStudioError(err, 'E_CONFLICT')) throw err;
    const now = await jobs.getJob(t.team, t.id);
    return now?.status === 'leased' && now.attempt === job.attempt ? 'moved' : 'stale';
  }
  await revokeJobTokens(deps, job, job.attempt);
  return outcome;
}

/** Task: --lifetime reached (drop a job still queued) or --max-duration reached (ask the worker to kill the run). */
export async function jobDeadline(
  deps: CoreDeps,
  t: {
    team: string;
    id: string;
    kind: 'lifetime' | 'max-duration';
    attempt?: number | undefined;
    queuedAt?: string | undefined;
  },
): Promise<'expired' | 'kill-requested' | 'stale'> {
  const job = await store(deps).getJob(t.team, t.id);
  if (!job || otherGeneration(job, t)) return 'stale';
  if (t.kind === 'lifetime') {
    if (job.status !== 'queued' || !job.notAfter || Date.parse(job.notAfter) > deps.now().getTime()) return 'stale';
    return (await expireJob(deps, job)) ? 'expired' : 'stale';
  }
  if (job.status !== 'leased' || job.attempt !== t.attempt) return 'stale';
  try {
    await store(deps).updateJob(
      t.team,
      t.id,
      { stopRequested: 'kill', stopReason: `ran longer than its --max-duration (${job.maxDurationSeconds} s)` },
      { status: ['leased'], attempt: job.attempt },
    );
  } catch (err) {
    if (isStudioError(err, 'E_CONFLICT')) return 'stale';
    throw err;
  }
  return 'kill-requested';
}
