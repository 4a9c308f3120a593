import * as z from 'zod';
import { StudioError } from '../contract/errors.ts';
import { SHA256_RE } from '../contract/names.ts';
import type { CoreDeps } from './context.ts';
import { VERIFY_BLOB_KIND, verifyBlob } from './internal-tasks.ts';
import { checkLease, JOB_DEADLINE_KIND, jobDeadline, LEASE_CHECK_KIND } from './jobs.ts';
import { RETENTION_KIND, scheduledRetention } from './retention-schedule.ts';

/**
 * Every task kind the TaskQueue delivers, and the core handler it runs. The queue adapters carry only the kind:
 * locally the SQLite queue calls `runTask` in-process; on GCP the Cloud Tasks adapter turns the kind into the
 * internal URL and the internal HTTP route (api/internal-handler.ts) turns it back into the kind, then calls
 * `runTask`. Payloads are validated here, whoever delivered them.
 */

const teamId = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/);

export const verifyBlobPayload = z.strictObject({
  team: teamId,
  sha256: z.string().regex(SHA256_RE),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

const jobRef = {
  team: teamId,
  id: z.string().min(1).max(128),
  /** The job's queuedAt: a task of an earlier job under the same key (deleted, then queued again) is stale. */
  queuedAt: z.string().max(64).optional(),
};
export const leaseCheckPayload = z.strictObject({ ...jobRef, attempt: z.number().int().positive() });
export const jobDeadlinePayload = z.strictObject({
  ...jobRef,
  kind: z.enum(['lifetime', 'max-duration']),
  attempt: z.number().int().positive().optional(),
});

/** The scheduled retention run: every team with a policy (`{}`, what the schedulers send), or one team. */
export const retentionPayload = z.strictObject({ team: teamId.optional() });

type TaskHandler = (deps: CoreDeps, payload: unknown) => Promise<Record<string, unknown>>;

function parse<T extends z.ZodType>(schema: T, payload: unknown): z.output<T> {
  const r = schema.safeParse(payload);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new StudioError('E_BAD_REQUEST', `invalid body at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return r.data;
}

const TASK_HANDLERS: Record<string, TaskHandler> = {
  [VERIFY_BLOB_KIND]: async (deps, p) => ({ outcome: await verifyBlob(deps, parse(verifyBlobPayload, p)) }),
  [LEASE_CHECK_KIND]: async (deps, p) => ({ outcome: await checkLease(deps, parse(leaseCheckPayload, p)) }),
  [JOB_DEADLINE_KIND]: async (deps, p) => ({ outcome: await jobDeadline(deps, parse(jobDeadlinePayload, p)) }),
  [RETENTION_KIND]: async (deps, p) => ({ ...(await scheduledRetention(deps, parse(retentionPayload, p))) }),
};

/** The task kinds there are: `verify-blob`, `lease-check`, `job-deadline`, `retention`. */
export const TASK_KINDS: readonly string[] = Object.freeze(Object.keys(TASK_HANDLERS));

/** Whether `kind` names a task kind this core runs. */
export function isTaskKind(kind: string): boolean {
  return Object.hasOwn(TASK_HANDLERS, kind);
}

/**
 * Runs one delivered task: its kind's core handler on the validated payload; the answer says what it found
 * (`{ outcome }`). Throws E_NOT_FOUND for an unknown kind, E_BAD_REQUEST for an invalid payload, and whatever the
 * handler throws (which makes the queue retry).
 */
export async function runTask(deps: CoreDeps, kind: string, payload: unknown): Promise<Record<string, unknown>> {
  const run = isTaskKind(kind) ? TASK_HANDLERS[kind] : undefined;
  if (!run) throw new StudioError('E_NOT_FOUND', `no task kind ${kind}`);
  return run(deps, payload);
}
