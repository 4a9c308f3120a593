import { StudioError } from '../contract/errors.ts';

/** Dedup keys: the characters Cloud Tasks allows in a task id. */
export const TASK_NAME_RE = /^[A-Za-z0-9_-]{1,500}$/;
/** Task kinds: what a task does (core/task-kinds.ts maps each to its core handler), never where it is delivered. */
export const TASK_KIND_RE = /^[a-z0-9-]{1,64}$/;

export interface TaskRequest {
  /** Dedup key, [A-Za-z0-9_-]{1,500}. Derive it from the work (e.g. `verify-<team>-<sha256>`), so retries collapse. */
  name: string;
  /** What the task does, e.g. `verify-blob` (core/task-kinds.ts); [a-z0-9-]{1,64}. */
  kind: string;
  /** JSON-serialisable payload, handed to the kind's handler. */
  payload: unknown;
  /** Not delivered before this time (default: now). */
  scheduleTime?: Date;
}

/**
 * Delayed, deduplicated, at-least-once background work. A task is delivered (its kind and payload) at or after its
 * scheduleTime and retried with backoff until its handler succeeds or the adapter's attempt limit is reached, so
 * handlers must be idempotent. How it travels is the adapter's business (Cloud Tasks: an HTTP call to an internal
 * route; locally: a call of the core dispatch in-process).
 */
export interface TaskQueue {
  /**
   * Schedules a task. Returns created=false, without scheduling anything, while a task of that name is pending or
   * completed within about the last hour (Cloud Tasks' tombstone); never a duplicate. Throws E_BAD_REQUEST for an
   * invalid name, kind, payload or scheduleTime, E_UNAVAILABLE when the queue backend cannot be reached; anything else
   * is wrapped as E_INTERNAL with `cause`.
   */
  enqueue(task: TaskRequest): Promise<{ created: boolean }>;
}

/** Checks a task before an adapter stores it; returns the serialised payload. Throws E_BAD_REQUEST. */
export function validateTask(task: TaskRequest): string {
  if (!TASK_NAME_RE.test(task.name)) {
    throw new StudioError('E_BAD_REQUEST', `invalid task name "${task.name.slice(0, 80)}": use [A-Za-z0-9_-], max 500`);
  }
  if (typeof task.kind !== 'string' || !TASK_KIND_RE.test(task.kind)) {
    throw new StudioError('E_BAD_REQUEST', `invalid task kind "${String(task.kind).slice(0, 80)}"`);
  }
  if (task.scheduleTime !== undefined && Number.isNaN(task.scheduleTime.getTime())) {
    throw new StudioError('E_BAD_REQUEST', 'invalid task scheduleTime');
  }
  let body: string | undefined;
  try {
    body = JSON.stringify(task.payload);
  } catch (cause) {
    throw new StudioError('E_BAD_REQUEST', 'task payload is not JSON-serialisable', { cause });
  }
  if (body === undefined) throw new StudioError('E_BAD_REQUEST', 'task payload is not JSON-serialisable');
  // Cloud Tasks caps a task at 1 MB; staying well under keeps both backends alike.
  if (body.length > 512 * 1024) throw new StudioError('E_BAD_REQUEST', 'task payload over 512 KiB');
  return body;
}
