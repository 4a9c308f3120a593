import type Database from 'better-sqlite3';

/**
 * The whole schema of the local metadata database (one file, one connection per process: sqlite-db.ts). Bump
 * SCHEMA_VERSION with a migration when it changes; a fresh database gets SCHEMA_SQL and the current version.
 */
export const SCHEMA_VERSION = 8;

/**
 * Jobs, audit log, task queue and sign-in codes: before version 5 each adapter created its own table on open. The
 * task queue's second column was `route` until version 6 renamed it `kind`.
 */
const sideTables = (taskColumn: 'route' | 'kind') => `
CREATE TABLE IF NOT EXISTS jobs (
  team TEXT NOT NULL, id TEXT NOT NULL, queue TEXT NOT NULL, status TEXT NOT NULL, attempt INTEGER NOT NULL,
  queued_at TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (team, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS jobs_queued ON jobs (team, queue, status, queued_at);
CREATE INDEX IF NOT EXISTS jobs_by_time ON jobs (team, queued_at DESC);

CREATE TABLE IF NOT EXISTS audit_log (
  team TEXT NOT NULL, id TEXT NOT NULL, action TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (team, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_log_by_action ON audit_log (team, action, id);
-- Append-only below the API too: triggers abort every UPDATE and DELETE, and an INSERT that would replace an entry
-- (INSERT OR REPLACE deletes without firing delete triggers), so not even a bug in this process rewrites history.
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE team = NEW.team AND id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;

CREATE TABLE IF NOT EXISTS task_queue (
  name TEXT PRIMARY KEY, ${taskColumn} TEXT NOT NULL, body TEXT NOT NULL,
  due_at INTEGER NOT NULL, attempts INTEGER NOT NULL, state TEXT NOT NULL, finished_at INTEGER, last_error TEXT
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS task_queue_due ON task_queue (state, due_at);

CREATE TABLE IF NOT EXISTS signin_codes (
  hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, scopes TEXT NOT NULL, expires_at TEXT NOT NULL, used_at TEXT
) WITHOUT ROWID;
`;

/** Named, movable pointers to versions (core/aliases.ts); deleted with their experiment. */
const ALIASES = `
CREATE TABLE IF NOT EXISTS aliases (
  team TEXT NOT NULL, experiment TEXT NOT NULL, tag TEXT NOT NULL, name TEXT NOT NULL,
  version INTEGER NOT NULL, updated_at TEXT NOT NULL, updated_by TEXT NOT NULL,
  PRIMARY KEY (team, experiment, tag, name)
) WITHOUT ROWID;
`;

/**
 * Retention policies (core/retention.ts): one row per team policy (project '', since a primary key does not dedupe
 * NULLs) and per project policy; `data` is the RetentionPolicy as JSON.
 */
const RETENTION = `
CREATE TABLE IF NOT EXISTS retention_policies (
  team TEXT NOT NULL, project TEXT NOT NULL, data TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (team, project)
) WITHOUT ROWID;
`;

/**
 * Statements that bring a database at version N-1 to N (index = N). A database with tables but user_version 0 is a
 * version 1 database (the first release did not set it).
 */
export const MIGRATIONS: Record<number, string | ((db: Database.Database) => void)> = {
  2: `ALTER TABLE users ADD COLUMN email TEXT;
      ALTER TABLE tokens ADD COLUMN binding TEXT;
      ALTER TABLE tokens ADD COLUMN label TEXT;
      CREATE UNIQUE INDEX IF NOT EXISTS users_by_email ON users (email);`,
  3: `CREATE TABLE IF NOT EXISTS teams (id TEXT PRIMARY KEY, created_by TEXT NOT NULL, created_at TEXT NOT NULL);`,
  4: `ALTER TABLE blobs ADD COLUMN condemned_at TEXT;
      ALTER TABLE blobs ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0;`,
  // IF NOT EXISTS: a home opened by the version-4 code already has whichever side tables it used.
  5: sideTables('route'),
  // Version 6: version aliases; the task queue stores a task's kind, not the URL Cloud Tasks would post it to (rows
  // written by version 5 held `/internal/tasks/<kind>`). A table that already has `kind` is left as it is.
  6: (db) => {
    db.exec(ALIASES);
    const columns = db.prepare('PRAGMA table_info(task_queue)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'route')) return;
    db.exec(`ALTER TABLE task_queue RENAME COLUMN route TO kind;
      UPDATE task_queue SET kind = substr(kind, 17) WHERE kind LIKE '/internal/tasks/%';`);
  },
  // Version 7: packs (core/packs.ts): a small blob's record says which pack holds it, and where.
  7: (db) => {
    const columns = db.prepare('PRAGMA table_info(blobs)').all() as { name: string }[];
    for (const [name, type] of [
      ['pack_id', 'TEXT'],
      ['pack_offset', 'INTEGER'],
    ]) {
      if (!columns.some((c) => c.name === name)) db.exec(`ALTER TABLE blobs ADD COLUMN ${name} ${type}`);
    }
  },
  // Version 8: retention policies (issue 18).
  8: RETENTION,
};

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS experiments (
  team TEXT NOT NULL, key TEXT NOT NULL, project TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (team, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS experiments_by_time ON experiments (team, created_at DESC);
CREATE INDEX IF NOT EXISTS experiments_by_project ON experiments (team, project, created_at DESC);

CREATE TABLE IF NOT EXISTS artifacts (
  team TEXT NOT NULL, experiment TEXT NOT NULL, tag TEXT NOT NULL, mutable INTEGER NOT NULL,
  latest_version INTEGER NOT NULL, latest_digest TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (team, experiment, tag)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS versions (
  team TEXT NOT NULL, experiment TEXT NOT NULL, tag TEXT NOT NULL, version INTEGER NOT NULL,
  digest TEXT NOT NULL, manifest_sha256 TEXT NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
  stats TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (team, experiment, tag, version)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS blobs (
  team TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, verified INTEGER NOT NULL, created_at TEXT NOT NULL,
  condemned_at TEXT, deleting INTEGER NOT NULL DEFAULT 0, pack_id TEXT, pack_offset INTEGER,
  PRIMARY KEY (team, sha256)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, email TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS users_by_email ON users (email);

CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, scopes TEXT NOT NULL,
  created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT, binding TEXT, label TEXT
);
CREATE INDEX IF NOT EXISTS tokens_by_user ON tokens (user_id, created_at DESC);

CREATE TABLE IF NOT EXISTS teams (id TEXT PRIMARY KEY, created_by TEXT NOT NULL, created_at TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS memberships (
  team TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (team, user_id)
) WITHOUT ROWID;
${sideTables('kind')}
${ALIASES}
${RETENTION}`;
