/**
 * The one connection to the local metadata file (sqlite-db.ts): a home made by the studio-lite that opened four
 * connections (metadata store at schema 4, and the job store, audit log, task queue and sign-in codes each creating
 * its own table) opens and migrates, keeping every row; the write helper maps driver errors to coded ones.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteAuditLog } from '../../src/adapters/local/sqlite-audit-log.ts';
import { openSqliteDb, sqliteError } from '../../src/adapters/local/sqlite-db.ts';
import { createSqliteJobStore } from '../../src/adapters/local/sqlite-job-store.ts';
import { createSqliteRetentionStore } from '../../src/adapters/local/sqlite-retention-store.ts';
import { SCHEMA_VERSION } from '../../src/adapters/local/sqlite-schema.ts';
import { createSqliteSigninCodes } from '../../src/adapters/local/sqlite-signin-codes.ts';
import { createSqliteStores } from '../../src/adapters/local/sqlite-stores.ts';
import { isStudioError } from '../../src/contract/errors.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function dbFile(): string {
  const d = mkdtempSync(join(tmpdir(), 'sl-db-'));
  dirs.push(d);
  return join(d, 'studio.sqlite');
}

/** The metadata schema as the version-4 code created it (sqlite-schema.ts before the single connection). */
const V4_METADATA = `
CREATE TABLE experiments (team TEXT NOT NULL, key TEXT NOT NULL, project TEXT, status TEXT NOT NULL,
  created_at TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (team, key)) WITHOUT ROWID;
CREATE INDEX experiments_by_time ON experiments (team, created_at DESC);
CREATE INDEX experiments_by_project ON experiments (team, project, created_at DESC);
CREATE TABLE artifacts (team TEXT NOT NULL, experiment TEXT NOT NULL, tag TEXT NOT NULL, mutable INTEGER NOT NULL,
  latest_version INTEGER NOT NULL, latest_digest TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (team, experiment, tag)) WITHOUT ROWID;
CREATE TABLE versions (team TEXT NOT NULL, experiment TEXT NOT NULL, tag TEXT NOT NULL, version INTEGER NOT NULL,
  digest TEXT NOT NULL, manifest_sha256 TEXT NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
  stats TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (team, experiment, tag, version)) WITHOUT ROWID;
CREATE TABLE blobs (team TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, verified INTEGER NOT NULL,
  created_at TEXT NOT NULL, condemned_at TEXT, deleting INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (team, sha256)) WITHOUT ROWID;
CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, email TEXT);
CREATE UNIQUE INDEX users_by_email ON users (email);
CREATE TABLE tokens (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
  scopes TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT, binding TEXT, label TEXT);
CREATE INDEX tokens_by_user ON tokens (user_id, created_at DESC);
CREATE TABLE teams (id TEXT PRIMARY KEY, created_by TEXT NOT NULL, created_at TEXT NOT NULL);
CREATE TABLE memberships (team TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL,
  PRIMARY KEY (team, user_id)) WITHOUT ROWID;
PRAGMA user_version = 4;
`;

/** What the job store, audit log, task queue and sign-in codes each created on their own connection. */
const V4_SIDE_TABLES = `
CREATE TABLE jobs (team TEXT NOT NULL, id TEXT NOT NULL, queue TEXT NOT NULL, status TEXT NOT NULL,
  attempt INTEGER NOT NULL, queued_at TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (team, id)) WITHOUT ROWID;
CREATE INDEX jobs_queued ON jobs (team, queue, status, queued_at);
CREATE INDEX jobs_by_time ON jobs (team, queued_at DESC);
CREATE TABLE audit_log (team TEXT NOT NULL, id TEXT NOT NULL, action TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (team, id)) WITHOUT ROWID;
CREATE INDEX audit_log_by_action ON audit_log (team, action, id);
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE team = NEW.team AND id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TABLE task_queue (name TEXT PRIMARY KEY, route TEXT NOT NULL, body TEXT NOT NULL, due_at INTEGER NOT NULL,
  attempts INTEGER NOT NULL, state TEXT NOT NULL, finished_at INTEGER, last_error TEXT) WITHOUT ROWID;
CREATE INDEX task_queue_due ON task_queue (state, due_at);
CREATE TABLE signin_codes (hash TEXT PRIMARY KEY, user_id TEXT NOT NULL, scopes TEXT NOT NULL,
  expires_at TEXT NOT NULL, used_at TEXT) WITHOUT ROWID;
`;

const T0 = '2030-01-01T00:00:00.000Z';
const job = { team: 'local', id: 'exp-1', queue: 'default', status: 'queued', attempt: 0, queuedAt: T0 };
const audit = { team: 'local', id: '0001', action: 'token.create', actor: 'local', at: T0 };

function oldHome(path: string, side: boolean): void {
  const old = new Database(path);
  old.exec(V4_METADATA);
  old.exec(`INSERT INTO users VALUES ('local', 'local user', '${T0}', NULL);
    INSERT INTO memberships VALUES ('local', 'local', 'admin');
    INSERT INTO blobs VALUES ('local', '${'ab'.repeat(32)}', 5, 1, '${T0}', NULL, 0);
    INSERT INTO experiments VALUES ('local', 'exp-1', NULL, 'running', '${T0}',
      '{"team":"local","key":"exp-1","status":"running","createdAt":"${T0}"}');`);
  if (side) {
    old.exec(V4_SIDE_TABLES);
    old
      .prepare('INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run('local', 'exp-1', 'default', 'queued', 0, T0, JSON.stringify(job));
    old
      .prepare('INSERT INTO audit_log VALUES (?, ?, ?, ?)')
      .run('local', '0001', 'token.create', JSON.stringify(audit));
    old.exec(`INSERT INTO task_queue VALUES ('t1', '/internal/tasks/verify-blob', '{}', 0, 0, 'pending', NULL, NULL)`);
  }
  old.close();
}

describe('sqlite-db: one connection, one schema, migrations', () => {
  it('a home made by the four-connection code (schema 4 + side tables) opens as schema 5 with every row', async () => {
    const path = dbFile();
    oldHome(path, true);
    const sdb = openSqliteDb(path);
    try {
      expect(sdb.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      const stores = createSqliteStores(sdb);
      expect(await stores.accounts.getMemberships('local')).toEqual({ local: 'admin' });
      expect((await stores.experiments.getExperiment('local', 'exp-1'))?.status).toBe('running');
      // Version 7 (packs): a blob recorded before packs is a loose blob; packed ones record their place.
      const old = 'ab'.repeat(32);
      expect(await stores.blobIndex.findBlobs('local', [old])).toEqual(
        new Map([[old, { sha256: old, size: 5, verified: true }]]),
      );
      await stores.blobIndex.putBlobs('local', [
        { sha256: 'cd'.repeat(32), size: 3, verified: true, pack: { id: 'ef'.repeat(32), offset: 7 } },
      ]);
      expect((await stores.blobIndex.findBlobs('local', ['cd'.repeat(32)])).get('cd'.repeat(32))?.pack).toEqual({
        id: 'ef'.repeat(32),
        offset: 7,
      });
      expect(await createSqliteJobStore(sdb).getJob('local', 'exp-1')).toEqual(job);
      const log = createSqliteAuditLog(sdb);
      expect(await log.list('local', { limit: 5 })).toEqual([audit]);
      expect(() => sdb.db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/);
      expect(sdb.db.prepare('SELECT COUNT(*) AS n FROM task_queue').get()).toEqual({ n: 1 });
      // Version 8: retention policies.
      const retention = createSqliteRetentionStore(sdb);
      const policy = {
        team: 'local',
        project: null,
        keepLast: 3,
        keepEvery: null,
        keepWithinHours: null,
        keepHourly: null,
        keepDaily: null,
        expireDays: null,
        updatedAt: T0,
        updatedBy: 'local',
      };
      await retention.setPolicy(policy);
      expect(await retention.listPolicies('local')).toEqual([policy]);
    } finally {
      sdb.close();
    }
  });

  it('a schema-4 home that never had the side tables gains them (and the audit triggers)', async () => {
    const path = dbFile();
    oldHome(path, false);
    const sdb = openSqliteDb(path);
    try {
      await createSqliteJobStore(sdb).createJob({ ...job, id: 'exp-2' } as never);
      const codes = createSqliteSigninCodes(sdb);
      await codes.create({ hash: 'h', userId: 'local', scopes: ['*'], expiresAt: '2999-01-01T00:00:00.000Z' });
      expect(await codes.consume('h', T0)).toEqual({ userId: 'local', scopes: ['*'] });
      await createSqliteAuditLog(sdb).append(audit as never);
      expect(() => sdb.db.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/);
    } finally {
      sdb.close();
    }
  });

  it('a file a side adapter created first (no metadata tables, user_version 0) gets the whole schema', async () => {
    const path = dbFile();
    const old = new Database(path);
    old.exec(V4_SIDE_TABLES);
    old
      .prepare('INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?)')
      .run('local', 'exp-1', 'default', 'queued', 0, T0, JSON.stringify(job));
    old.close();
    const sdb = openSqliteDb(path);
    try {
      expect(sdb.db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
      expect(await createSqliteJobStore(sdb).getJob('local', 'exp-1')).toEqual(job);
      expect(await createSqliteStores(sdb).accounts.listUsers()).toEqual([]);
    } finally {
      sdb.close();
    }
  });

  it('a database from a newer studio-lite is refused (E_INTERNAL) and left untouched', () => {
    const path = dbFile();
    openSqliteDb(path).close();
    const raw = new Database(path);
    raw.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    raw.close();
    expect(() => openSqliteDb(path)).toThrow(/newer studio-lite/);
  });

  it('write(): one IMMEDIATE transaction, rolled back on error; busy is E_UNAVAILABLE, others E_INTERNAL', () => {
    const path = dbFile();
    const sdb = openSqliteDb(path);
    try {
      const put = sdb.write('test', (fail: boolean) => {
        sdb.db.prepare("INSERT INTO teams VALUES ('t', 'u', 'x')").run();
        if (fail) sdb.db.prepare("INSERT INTO teams VALUES ('t', 'u', 'x')").run();
      });
      const err = (() => {
        try {
          put(true);
        } catch (e) {
          return e;
        }
      })();
      expect(isStudioError(err, 'E_INTERNAL')).toBe(true);
      expect(sdb.db.prepare('SELECT COUNT(*) AS n FROM teams').get()).toEqual({ n: 0 });
      put(false);
      expect(sdb.db.prepare('SELECT COUNT(*) AS n FROM teams').get()).toEqual({ n: 1 });
      expect(sqliteError(Object.assign(new Error('busy'), { code: 'SQLITE_BUSY' }), 'x').code).toBe('E_UNAVAILABLE');
    } finally {
      sdb.close();
    }
  });
});
