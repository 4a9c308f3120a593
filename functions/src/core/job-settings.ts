/** How a backend runs its job queue (CoreDeps.jobSettings; the local backend reads them from the environment). */
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
