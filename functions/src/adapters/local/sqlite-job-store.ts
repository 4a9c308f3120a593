import type Database from 'better-sqlite3';
import { StudioError } from '../../contract/errors.ts';
import {
  type JobExpect,
  type JobListQuery,
  type JobRecord,
  type JobStatus,
  jobMatches,
} from '../../contract/job-model.ts';
import type { JobStore } from '../../core/ports.ts';
import { openPrivateDatabase } from './private-files.ts';

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
  const db = openPrivateDatabase(opts.path);
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
  };
  /** listJobs statements by filter shape (queue?, number of statuses), prepared on first use. */
  const listStmts = new Map<string, Database.Statement>();
  const listStmt = (byQueue: boolean, statuses: number) => {
    const k = `${byQueue}:${statuses}`;
    let st = listStmts.get(k);
    if (!st) {
      const where = [
        'team = ?',
        ...(byQueue ? ['queue = ?'] : []),
        ...(statuses ? [`status IN (${Array(statuses).fill('?').join(', ')})`] : []),
      ];
      st = db.prepare(`SELECT data FROM jobs WHERE ${where.join(' AND ')} ORDER BY queued_at DESC, id DESC LIMIT ?`);
      listStmts.set(k, st);
    }
    return st;
  };
  const parse = (r: Row | undefined) => (r ? (JSON.parse(r.data) as JobRecord) : null);

  const update = db.transaction((team: string, id: string, patch: Partial<JobRecord>, expect: JobExpect) => {
    const cur = parse(q.get.get(team, id) as Row | undefined);
    if (!cur) throw new StudioError('E_NOT_FOUND', `job ${id} not found`);
    if (!jobMatches(cur, expect)) {
      throw new StudioError('E_CONFLICT', `job ${id} is ${cur.status} (attempt ${cur.attempt})`, {
        details: { status: cur.status, attempt: cur.attempt },
      });
    }
    // Undefined fields are "not in the patch" (as in Firestore with ignoreUndefinedProperties), not deletions.
    const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    const next: JobRecord = { ...cur, ...defined, team, id };
    q.put.run(next.queue, next.status, next.attempt, next.queuedAt, JSON.stringify(next), team, id);
    return next;
  });

  const removeJob = db.transaction((team: string, id: string, expect: { status: JobStatus[] }) => {
    const cur = parse(q.get.get(team, id) as Row | undefined);
    if (!cur) return;
    if (!expect.status.includes(cur.status)) {
      throw new StudioError('E_CONFLICT', `job ${id} is ${cur.status}`, { details: { status: cur.status } });
    }
    db.prepare('DELETE FROM jobs WHERE team = ? AND id = ?').run(team, id);
  });

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
    async deleteJob(team, id, expect) {
      try {
        removeJob.immediate(team, id, expect);
      } catch (err) {
        throw wrap(err, 'deleteJob');
      }
    },
    async listQueued(team, queue, limit) {
      return (q.queued.all(team, queue, Math.max(1, Math.min(limit, 1000))) as Row[]).map((r) => parse(r) as JobRecord);
    },
    async listJobs(team, query: JobListQuery) {
      const limit = Math.max(1, Math.min(query.limit ?? 1000, 10_000));
      // Filters run in SQL (not over the newest N rows), so an old job of a rare status is still found.
      const statuses = query.status ? [...new Set(query.status)] : [];
      if (query.status && statuses.length === 0) return [];
      const args = [team, ...(query.queue ? [query.queue] : []), ...statuses, limit];
      return (listStmt(Boolean(query.queue), statuses.length).all(...args) as Row[]).map((r) => parse(r) as JobRecord);
    },
    close() {
      db.close();
    },
  };
}
