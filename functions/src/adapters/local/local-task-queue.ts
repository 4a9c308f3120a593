import { StudioError } from '../../contract/errors.ts';
import { type TaskQueue, type TaskRequest, validateTask } from '../../core/task-queue.ts';
import { type SqliteDb, sqliteError } from './sqlite-db.ts';

export interface LocalTaskQueueOptions {
  /** The local metadata database (the queue keeps to its own table, task_queue); closing it stays the caller's. */
  db: SqliteDb;
  /** Delivers a task in-process (core/task-kinds.ts runTask); a rejection counts as a failed attempt. */
  dispatch: (kind: string, payload: unknown) => Promise<void>;
  /** Attempts before a task is given up (default 10). */
  maxAttempts?: number;
  /** Backoff after the first failure, doubled per attempt up to maxBackoffMs (defaults 1 s and 5 min). */
  minBackoffMs?: number;
  maxBackoffMs?: number;
  /** How long a finished task's name stays taken (default 1 h, as Cloud Tasks). */
  tombstoneMs?: number;
  /** Longest sleep between looks at the table, which picks up tasks other processes enqueued (default 5 s). */
  pollMs?: number;
  /** A claimed task whose process died becomes due again after this (default 10 min). */
  leaseMs?: number;
  /** Tasks delivered at once (default 8). */
  concurrency?: number;
  /**
   * Kinds this process leaves in the table for another one (e.g. `retention`, which only `studio-lite serve`
   * delivers): never claimed here, and not counted when the scheduler decides when to look next.
   */
  skipKinds?: readonly string[];
  log?: (msg: string, err: unknown) => void;
}

export interface LocalTaskQueue extends TaskQueue {
  /** Stops scheduling and waits for deliveries in flight (the database stays open). Pending tasks resume at next open. */
  close(): Promise<void>;
}

interface TaskRow {
  name: string;
  kind: string;
  body: string;
  attempts: number;
}

/**
 * TaskQueue on SQLite with an in-process scheduler. Each process that opens the file delivers due tasks; a task is
 * claimed by one atomic UPDATE, so several processes (the local host and a CLI) never deliver it twice at once.
 */
export function createLocalTaskQueue(opts: LocalTaskQueueOptions): LocalTaskQueue {
  const maxAttempts = opts.maxAttempts ?? 10;
  const minBackoff = opts.minBackoffMs ?? 1000;
  const maxBackoff = opts.maxBackoffMs ?? 300_000;
  const tombstoneMs = opts.tombstoneMs ?? 3_600_000;
  const pollMs = opts.pollMs ?? 5000;
  const leaseMs = opts.leaseMs ?? 600_000;
  const concurrency = opts.concurrency ?? 8;
  const skipped = JSON.stringify([...(opts.skipKinds ?? [])]);
  const notSkipped = 'kind NOT IN (SELECT value FROM json_each(?))';

  const { db } = opts.db;
  const q = {
    expire: db.prepare("DELETE FROM task_queue WHERE name = ? AND state != 'pending' AND finished_at < ?"),
    insert: db.prepare(
      "INSERT INTO task_queue (name, kind, body, due_at, attempts, state) VALUES (?, ?, ?, ?, 0, 'pending') ON CONFLICT (name) DO NOTHING",
    ),
    due: db.prepare(
      `SELECT name, kind, body, attempts FROM task_queue WHERE state = 'pending' AND due_at <= ? AND ${notSkipped} ORDER BY due_at LIMIT ?`,
    ),
    claim: db.prepare(
      "UPDATE task_queue SET due_at = ?, attempts = attempts + 1 WHERE name = ? AND state = 'pending' AND due_at <= ?",
    ),
    done: db.prepare("UPDATE task_queue SET state = 'done', finished_at = ?, last_error = NULL WHERE name = ?"),
    retry: db.prepare('UPDATE task_queue SET due_at = ?, last_error = ? WHERE name = ?'),
    giveUp: db.prepare("UPDATE task_queue SET state = 'failed', finished_at = ?, last_error = ? WHERE name = ?"),
    next: db.prepare(`SELECT MIN(due_at) AS at FROM task_queue WHERE state = 'pending' AND ${notSkipped}`),
    sweep: db.prepare("DELETE FROM task_queue WHERE state != 'pending' AND finished_at < ?"),
  };
  const insert = db.transaction((name: string, kind: string, body: string, dueAt: number, now: number) => {
    q.expire.run(name, now - tombstoneMs);
    return q.insert.run(name, kind, body, dueAt).changes === 1;
  });

  /** stopping: no new deliveries; closed: the database is gone. */
  let stopping = false;
  let closed = false;
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  let lastSweep = 0;
  const inFlight = new Set<Promise<void>>();

  const record = (what: string, f: () => void) => {
    try {
      if (!closed) f();
    } catch (err) {
      opts.log?.(`local task queue: ${what} failed`, err);
    }
  };

  async function deliver(row: TaskRow, attempt: number): Promise<void> {
    try {
      await opts.dispatch(row.kind, JSON.parse(row.body));
      record('recording success', () => q.done.run(Date.now(), row.name));
    } catch (err) {
      opts.log?.(`task ${row.name} attempt ${attempt} failed`, err);
      const msg = err instanceof Error ? err.message : String(err);
      record('recording failure', () => {
        if (attempt >= maxAttempts) q.giveUp.run(Date.now(), msg, row.name);
        else q.retry.run(Date.now() + Math.min(maxBackoff, minBackoff * 2 ** (attempt - 1)), msg, row.name);
      });
    }
  }

  function tick(): void {
    timer = undefined;
    timerAt = Number.POSITIVE_INFINITY;
    if (stopping) return;
    try {
      const now = Date.now();
      if (now - lastSweep > 60_000) {
        q.sweep.run(now - tombstoneMs);
        lastSweep = now;
      }
      const free = concurrency - inFlight.size;
      if (free > 0) {
        for (const row of q.due.all(now, skipped, free) as TaskRow[]) {
          if (q.claim.run(now + leaseMs, row.name, now).changes !== 1) continue; // another process took it
          const p = deliver(row, row.attempts + 1).finally(() => {
            inFlight.delete(p);
            arm(0);
          });
          inFlight.add(p);
        }
      }
      if (inFlight.size < concurrency) {
        const next = (q.next.get(skipped) as { at: number | null }).at;
        arm(next === null ? pollMs : Math.min(pollMs, Math.max(0, next - Date.now())));
      } else {
        arm(pollMs);
      }
    } catch (err) {
      opts.log?.('local task queue: scheduling failed', err);
      arm(pollMs);
    }
  }

  /** Wakes the scheduler in `delay` ms unless it is already due sooner. */
  function arm(delay: number): void {
    if (stopping) return;
    const at = Date.now() + delay;
    if (timer && timerAt <= at) return;
    if (timer) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(tick, delay);
    // Pending work must not keep a CLI process alive; it is persisted and resumes at the next open.
    timer.unref();
  }

  arm(0);

  return {
    async enqueue(task: TaskRequest) {
      const body = validateTask(task);
      if (stopping) throw new StudioError('E_UNAVAILABLE', 'local task queue is closed');
      const now = Date.now();
      const dueAt = task.scheduleTime ? task.scheduleTime.getTime() : now;
      let created: boolean;
      try {
        created = insert.immediate(task.name, task.kind, body, dueAt, now);
      } catch (err) {
        throw sqliteError(err, 'task queue: enqueue');
      }
      if (created) arm(Math.max(0, dueAt - now));
      return { created };
    },
    async close() {
      if (stopping) return;
      stopping = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      await Promise.allSettled([...inFlight]);
      closed = true;
    },
  };
}
