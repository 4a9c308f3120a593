import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { StudioError } from '../../core/errors.ts';
import type { JobListQuery, JobRecord, JobStatus } from '../../core/job-model.ts';
import type { JobStore } from '../../core/ports.ts';

export interface SqliteJobStoreOptions {
  /** Database file (the metadata database is fine: the store keeps to its own table), or ':memory:' for tests. */
  path: string;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS jobs (
  team TEXT NOT NULL, id TEXT NOT NULL, queue TEXT NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL,
  queued_at TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (team, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_queued ON jobs (team, queue, status, queued_at);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (team, queued_at DESC);
`;

type Row = { data: string };

function wrap(err: unknown, what: string): StudioError {
  if (err instanceof StudioError) return err;
  const code = (err as { code?: unknown }).code;
  const busy = code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
  return new StudioError(busy ? 'E_UNAVAILABLE' : 'E_INTERNAL', `local job store: ${what} failed`, { cause: err });
}

/** JobStore on SQLite (WAL). Compare-and-set writes run in BEGIN IMMEDIATE, so several processes can share it. */
export function createSqliteJobStore(opts: SqliteJobStoreOptions): JobStore & { close(): void } {
  if (opts.path !== ':memory:') mkdirSync(dirname(opts.path), { recursive: true });
  const db = new Database(opts.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  db.exec(SCHEMA);
  const q = {
    insert: db.prepare(
      'INSERT INTO jobs (team, id, queue, status, attempt, queued_at, data) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    get: db.prepare('SELECT data FROM jobs WHERE team = ? AND id = ?'),
    put: db.prepare(
      'UPDATE jobs SET queue = ?, status = ?, attempt = ?, queued_at = ?, data = ? WHERE team = ? AND id = ?',
    ),
    queued: db.prepare(
      "SELECT data FROM jobs WHERE team = ? AND queue = ? AND status = 'queued' ORDER BY queued_at, id LIMIT ?",
    ),
    list: db.prepare('SELECT data FROM jobs WHERE team = ? ORDER BY queued_at DESC, id DESC LIMIT ?'),
  };
  const parse = (r: Row | undefined) => (r ? (JSON.parse(r.data) as JobRecord) : null);

  const update = db.transaction(
    (team: string, id: string, patch: Partial<JobRecord>, expect: { status: JobStatus[]; attempt?: number }) => {
      const cur = parse(q.get.get(team, id) as Row | undefined);
      if (!cur) throw new StudioError('E_NOT_FOUND', `job ${id} not found`);
      if (!expect.status.includes(cur.status) || (expect.attempt !== undefined && cur.attempt !== expect.attempt)) {
        throw new StudioError('E_CONFLICT', `job ${id} is ${cur.status} (attempt ${cur.attempt})`, {
          details: { status: cur.status, attempt: cur.attempt },
        });
      }
      const next: JobRecord = { ...cur, ...patch, team, id };
      q.put.run(next.queue, next.status, next.attempt, next.queuedAt, JSON.stringify(next), team, id);
      return next;
    },
  );

  return {
    async createJob(job) {
      try {
        q.insert.run(job.team, job.id, job.queue, job.status, job.attempt, job.queuedAt, JSON.stringify(job));
      } catch (err) {
        if ((err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new StudioError('E_CONFLICT', `job ${job.id} already exists`, { cause: err });
        }
        throw wrap(err, 'createJob');
      }
    },
    async getJob(team, id) {
      return parse(q.get.get(team, id) as Row | undefined);
    },
    async updateJob(team, id, patch, expect) {
      try {
        return update.immediate(team, id, patch, expect);
      } catch (err) {
        throw wrap(err, 'updateJob');
      }
    },
    async listQueued(team, queue, limit) {
      return (q.queued.all(team, queue, Math.max(1, Math.min(limit, 1000))) as Row[]).map((r) => parse(r) as JobRecord);
    },
    async listJobs(team, query: JobListQuery) {
      const limit = Math.max(1, Math.min(query.limit ?? 1000, 10_000));
      // Filters apply in memory over the newest rows: a team's job list is small next to its experiments.
      const rows = (q.list.all(team, query.queue || query.status ? 10_000 : limit) as Row[]).map(
        (r) => parse(r) as JobRecord,
      );
      return rows
        .filter((j) => (query.queue ? j.queue === query.queue : true))
        .filter((j) => (query.status ? query.status.includes(j.status) : true))
        .slice(0, limit);
    },
    close() {
      db.close();
    },
  };
}
