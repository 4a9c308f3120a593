import { StudioError } from '../contract/errors.ts';

/** Dedup keys: the characters Cloud Tasks allows in a task id. */
export const TASK_NAME_RE = /^[A-Za-z0-9_-]{1,500}$/;
/** Internal routes tasks may target (served by api/internal-handler.ts). */
export const TASK_ROUTE_RE = /^\/internal\/tasks\/[a-z0-9-]{1,64}$/;

/** Route of the task that re-hashes a stored blob (core/internal-tasks.ts). */
export const VERIFY_BLOB_ROUTE = '/internal/tasks/verify-blob';

export interface TaskRequest {
  /** Dedup key, [A-Za-z0-9_-]{1,500}. Derive it from the work (e.g. `verify-<team>-<sha256>`), so retries collapse. */
  name: string;
  /** Internal path the task is delivered to, e.g. VERIFY_BLOB_ROUTE. */
  route: string;
  /** JSON-serialisable payload, delivered as the request body. */
  body: unknown;
  /** Not delivered before this time (default: now). */
  scheduleTime?: Date;
}

/**
 * Delayed, deduplicated, at-least-once background work. A task is delivered to its route at or after its
 * scheduleTime and retried with backoff until the route succeeds or the adapter's attempt limit is reached, so routes
 * must be idempotent.
 */
export interface TaskQueue {
  /**
   * Schedules a task. Returns created=false, without scheduling anything, while a task of that name is pending or
   * completed within about the last hour (Cloud Tasks' tombstone); never a duplicate. Throws E_BAD_REQUEST for an
   * invalid name, route, body or scheduleTime, E_UNAVAILABLE when the queue backend cannot be reached; anything else
   * is wrapped as E_INTERNAL with `cause`.
   */
  enqueue(task: TaskRequest): Promise<{ created: boolean }>;
}

/** Checks a task before an adapter stores it; returns the serialised body. Throws E_BAD_REQUEST. */
export function validateTask(task: TaskRequest): string {
  if (!TASK_NAME_RE.test(task.name)) {
    throw new StudioError('E_BAD_REQUEST', `invalid task name "${task.name.slice(0, 80)}": use [A-Za-z0-9_-], max 500`);
  }
  if (!TASK_ROUTE_RE.test(task.route)) throw new StudioError('E_BAD_REQUEST', `invalid task route "${task.route}"`);
  if (task.scheduleTime !== undefined && Number.isNaN(task.scheduleTime.getTime())) {
    throw new StudioError('E_BAD_REQUEST', 'invalid task scheduleTime');
  }
  let body: string | undefined;
  try {
    body = JSON.stringify(task.body);
  } catch (cause) {
    throw new StudioError('E_BAD_REQUEST', 'task body is not JSON-serialisable', { cause });
  }
  if (body === undefined) throw new StudioError('E_BAD_REQUEST', 'task body is not JSON-serialisable');
  // Cloud Tasks caps a task at 1 MB; staying well under keeps both backends alike.
  if (body.length > 512 * 1024) throw new StudioError('E_BAD_REQUEST', 'task body over 512 KiB');
  return body;
}
