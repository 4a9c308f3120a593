import { randomBytes } from 'node:crypto';
import { RETENTION_KIND } from '../../core/retention-schedule.ts';
import type { TaskQueue } from '../../core/task-queue.ts';

/**
 * Retention on the local backend (issue 18): `studio-lite serve` applies every team's saved policies at its start and
 * once a day, as `retention` tasks of the SQLite task queue (core/task-kinds.ts runs them; only processes with this
 * schedule deliver that kind, so a `run` or a worker never does). The daily run is one task per calendar day,
 * `retention-daily-YYYY-MM-DD`, due at DAILY_AT local time: every serve of the home enqueues the same name and the
 * queue keeps one, so several serves on one home run it once. Each serve enqueues the next day's task at its start
 * and then every hour (a no-op while it is pending), so the chain never breaks while some serve runs.
 */

/** Local time of day the daily run is due (the deployment's Cloud Scheduler default is 03:17 too). */
export const DAILY_AT = { hour: 3, minute: 17 } as const;
/** How often a serve makes sure the next daily task exists. */
export const ARM_EVERY_MS = 3_600_000;

/** The first DAILY_AT (local time) strictly after `now`. */
export function nextDailyRun(now: Date, at: { hour: number; minute: number } = DAILY_AT): Date {
  const due = new Date(now.getFullYear(), now.getMonth(), now.getDate(), at.hour, at.minute, 0, 0);
  if (due.getTime() <= now.getTime()) due.setDate(due.getDate() + 1);
  return due;
}

/** The dedup name of the daily run due at `due`: its local calendar day. */
export function dailyTaskName(due: Date): string {
  const p = (n: number) => String(n).padStart(2, '0');
  return `retention-daily-${due.getFullYear()}-${p(due.getMonth() + 1)}-${p(due.getDate())}`;
}

export interface RetentionSchedule {
  /** Stops arming further runs (tasks already enqueued stay in the queue for the next serve). */
  stop(): void;
}

export interface RetentionScheduleOptions {
  now?: () => Date;
  log?: (msg: string, err: unknown) => void;
  armEveryMs?: number;
  at?: { hour: number; minute: number };
}

/** Enqueues a run now and the daily runs; the timer is unref'd (it never keeps a process alive). */
export function startRetentionSchedule(tasks: TaskQueue, opts: RetentionScheduleOptions = {}): RetentionSchedule {
  const now = opts.now ?? (() => new Date());
  const enqueue = (name: string, scheduleTime?: Date) =>
    tasks
      .enqueue({ name, kind: RETENTION_KIND, payload: {}, ...(scheduleTime ? { scheduleTime } : {}) })
      .catch((err) => opts.log?.(`retention: could not schedule ${name}`, err));
  const armNext = () => {
    const due = nextDailyRun(now(), opts.at);
    void enqueue(dailyTaskName(due), due);
  };
  // At start: a name of its own, so every start applies the policies whatever other serves did.
  void enqueue(`retention-start-${now().getTime()}-${randomBytes(4).toString('hex')}`);
  armNext();
  const timer = setInterval(armNext, opts.armEveryMs ?? ARM_EVERY_MS);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
