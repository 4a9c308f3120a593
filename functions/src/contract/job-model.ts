import type { LineageEntry } from './model.ts';

/**
 * A queued run (issue 5). One job per experiment: its id is the experiment key. `attempt` counts leases; a job token
 * is bound to one attempt, so anything a superseded attempt sends after its lease ended is refused.
 *
 *   queued --lease--> leased --complete--> finished | failed | stopped
 *     ^                 |  lease deadline passed, attempts left: back to queued (attempt kept, worker cleared)
 *     +-----------------+  no attempts left: lost
 *   queued --lifetime passed / stop--> expired / stopped
 */
export type JobStatus = 'queued' | 'leased' | 'finished' | 'failed' | 'stopped' | 'lost' | 'expired';
export const JOB_TERMINAL: readonly JobStatus[] = ['finished', 'failed', 'stopped', 'lost', 'expired'];

/** The compare-and-set precondition of a job write (JobStore.updateJob). */
export interface JobExpect {
  status: JobStatus[];
  attempt?: number;
  /** The lease deadline the caller judged (a lease check): a heartbeat that moved it since makes the write fail. */
  leaseExpiresAt?: string | null;
}

/** Whether `cur` satisfies `expect`; every adapter decides its compare-and-set with this one function. */
export function jobMatches(cur: JobRecord, expect: JobExpect): boolean {
  if (!expect.status.includes(cur.status)) return false;
  if (expect.attempt !== undefined && cur.attempt !== expect.attempt) return false;
  return expect.leaseExpiresAt === undefined || cur.leaseExpiresAt === expect.leaseExpiresAt;
}

/** What a worker needs to run the job, fixed when it is queued. */
export interface JobSpec {
  /** argv to run, in the workspace folder. */
  command: string[];
  /** Mutable artifacts to capture on the worker: paths relative to the workspace root (POSIX, no `..`). */
  captures: { tag: string; path: string }[];
  /** --capture-once inputs (already captured): where to lay each out, relative to the workspace, or null = own folder. */
  inputs: { tag: string; path: string | null }[];
  /** Resolved --reuse versions (the experiment's lineage). */
  reuse: LineageEntry[];
  /** Seconds between captures of mutable artifacts. */
  captureInterval: number;
  /** Resources the worker must offer, e.g. {gpus: 1}. */
  resources: Record<string, number>;
}

export interface JobRecord {
  team: string;
  id: string;
  queue: string;
  owner: string;
  status: JobStatus;
  spec: JobSpec;
  attempt: number;
  maxAttempts: number;
  /** The worker holding the lease (its self-chosen id and host), null unless leased. */
  worker: { id: string; host: string } | null;
  leaseExpiresAt: string | null;
  queuedAt: string;
  /** Latest time it may still be leased (--lifetime), null: no limit. */
  notAfter: string | null;
  maxDurationSeconds: number | null;
  /** First start of the current attempt. */
  startedAt: string | null;
  finishedAt: string | null;
  /** Set by `stop`/`kill` or --max-duration while leased; the worker sees it on its next heartbeat. */
  stopRequested: 'stop' | 'kill' | null;
  stopReason: string | null;
  exitCode: number | null;
  signal: string | null;
  /** The artifact versions the completing attempt produced: the run's result. */
  result: { attempt: number; artifacts: Record<string, number> } | null;
  /** Transfer figures the completing worker reported (e.g. bytes downloaded for inputs). */
  stats: Record<string, number>;
  /** Each lease taken: who and when (kept across requeues). */
  history: {
    attempt: number;
    worker: string;
    leasedAt: string;
    endedAt: string | null;
    outcome: string | null;
    /** The attempt's job token (revoked when the lease ends; core/job-tokens.ts). */
    tokenId?: string | undefined;
  }[];
}

export interface JobListQuery {
  queue?: string | undefined;
  status?: JobStatus[] | undefined;
  limit?: number | undefined;
}

/** What a worker gets when it leases a job (POST /v1/jobs/lease). */
export interface LeaseResult {
  job: JobRecord;
  /** Bearer secret bound to this attempt: write the experiment's artifacts, read its reuses, heartbeat, complete. */
  token: string;
  leaseSeconds: number;
  heartbeatSeconds: number;
}
