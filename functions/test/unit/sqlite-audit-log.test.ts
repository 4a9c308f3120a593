/**
 * SQLite extras beyond the conformance suites: the audit log stays append-only even for raw SQL on another
 * connection (triggers), and a schema-v2 database (before teams and blob GC) migrates to the current schema keeping
 * its data.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createSqliteAuditLog } from '../../src/adapters/local/sqlite-audit-log.ts';
import { openSqliteDb } from '../../src/adapters/local/sqlite-db.ts';
import { SCHEMA_VERSION } from '../../src/adapters/local/sqlite-schema.ts';
import { createSqliteStores } from '../../src/adapters/local/sqlite-stores.ts';
import { entry } from '../conformance/audit-log-suite.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
/** The metadata ports on their own connection, closed by `close`. */
function openStores(path: string) {
  const sdb = openSqliteDb(path);
  return { ...createSqliteStores(sdb), close: () => sdb.close() };
}
/** The audit log on its own connection, closed by `close`. */
function openLog(path: string) {
  const sdb = openSqliteDb(path);
  return Object.assign(createSqliteAuditLog(sdb), { close: () => sdb.close() });
}
function dbFile(): string {
  const d = mkdtempSync(join(tmpdir(), 'sl-audit-x-'));
  dirs.push(d);
  return join(d, 'meta.db');
}

describe('sqlite audit log: append-only below the port', () => {
  it('raw UPDATE, DELETE, INSERT OR REPLACE and REPLACE are aborted by triggers; the entries stay as written', async () => {
    const path = dbFile();
    const log = openLog(path);
    const e1 = entry('t', 1, { target: 'first' });
    const e2 = entry('t', 2, { target: 'second' });
    await log.append(e1);
    await log.append(e2);
    const raw = new Database(path);
    try {
      const attempts = [
        () => raw.prepare("UPDATE audit_log SET data = '{}' WHERE id = ?").run(e1.id),
        () => raw.prepare("UPDATE audit_log SET action = 'x'").run(),
        () => raw.prepare('DELETE FROM audit_log WHERE id = ?').run(e1.id),
        () => raw.prepare('DELETE FROM audit_log').run(),
        () =>
          raw
            .prepare("INSERT OR REPLACE INTO audit_log (team, id, action, data) VALUES ('t', ?, 'x', '{}')")
            .run(e1.id),
        () => raw.prepare("REPLACE INTO audit_log (team, id, action, data) VALUES ('t', ?, 'x', '{}')").run(e2.id),
      ];
      for (const attempt of attempts) expect(attempt).toThrow(/append-only/);
      // Even inside a transaction nothing gets through.
      expect(() => raw.transaction(() => raw.prepare('DELETE FROM audit_log').run())()).toThrow(/append-only/);
    } finally {
      raw.close();
    }
    expect(await log.list('t', { limit: 10 })).toEqual([e2, e1]);
    log.close();
  });

  it('new entries can still be appended after refused rewrites, and reopening keeps the triggers', async () => {
    const path = dbFile();
    const first = openLog(path);
    await first.append(entry('t', 1));
    first.close();
    const again = openLog(path);
    await again.append(entry('t', 2));
    expect(await again.list('t', { limit: 10 })).toHaveLength(2);
    const raw = new Database(path);
    expect(() => raw.prepare('DELETE FROM audit_log').run()).toThrow(/append-only/);
    raw.close();
    again.close();
  });
});

describe('sqlite metadata schema migration', () => {
  it('a v2 database (no teams table, no blob GC columns) opens as the current schema with its data', async () => {
    const path = dbFile();
    // A v2 database as studio-lite 0.1 left it: the v2 tables, user_version 2.
    const old = new Database(path);
    old.exec(`
      CREATE TABLE experiments (team TEXT NOT NULL, key TEXT NOT NULL, project TEXT, status TEXT NOT NULL,
        created_at TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (team, key)) WITHOUT ROWID;
      CREATE TABLE artifacts (team TEXT NOT NULL, experiment TEXT NOT NULL, tag TEXT NOT NULL, mutable INTEGER NOT NULL,
        latest_version INTEGER NOT NULL, latest_digest TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
        PRIMARY KEY (team, experiment, tag)) WITHOUT ROWID;
      CREATE TABLE versions (team TEXT NOT NULL, experiment TEXT NOT NULL, tag TEXT NOT NULL, version INTEGER NOT NULL,
        digest TEXT NOT NULL, manifest_sha256 TEXT NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
        stats TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
        PRIMARY KEY (team, experiment, tag, version)) WITHOUT ROWID;
      CREATE TABLE blobs (team TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, verified INTEGER NOT NULL,
        created_at TEXT NOT NULL, PRIMARY KEY (team, sha256)) WITHOUT ROWID;
      CREATE TABLE users (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, email TEXT);
      CREATE UNIQUE INDEX users_by_email ON users (email);
      CREATE TABLE tokens (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, kind TEXT NOT NULL,
        scopes TEXT NOT NULL, created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT, binding TEXT, label TEXT);
      CREATE TABLE memberships (team TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL,
        PRIMARY KEY (team, user_id)) WITHOUT ROWID;
      INSERT INTO memberships VALUES ('local', 'local', 'admin');
      INSERT INTO users VALUES ('local', 'local user', '2030-01-01T00:00:00.000Z', NULL);
      INSERT INTO blobs VALUES ('local', '${'a'.repeat(64)}', 5, 1, '2030-01-01T00:00:01.000Z');
      PRAGMA user_version = 2;
    `);
    old.close();
    const store = openStores(path);
    try {
      expect(await store.accounts.getMemberships('local')).toEqual({ local: 'admin' });
      expect(await store.accounts.listTeamMembers('local')).toEqual([{ userId: 'local', role: 'admin' }]);
      expect(await store.accounts.getTeam('local')).toBeNull();
      await store.accounts.createTeam({ id: 'local', createdBy: 'local', createdAt: '2030-01-02T00:00:00.000Z' });
      expect((await store.accounts.getTeam('local'))?.createdBy).toBe('local');
      // v4: the old blob is neither condemned nor deleting, and GC can condemn and delete it.
      const sha = 'a'.repeat(64);
      expect((await store.blobIndex.findBlobs('local', [sha])).get(sha)).toStrictEqual({
        sha256: sha,
        size: 5,
        verified: true,
      });
      expect(await store.blobIndex.listBlobs('local', { limit: 10 })).toStrictEqual([
        { sha256: sha, size: 5, verified: true, createdAt: '2030-01-01T00:00:01.000Z', deleting: false },
      ]);
      expect(
        await store.blobIndex.condemnBlobs('local', [{ sha256: sha, size: 5 }], '2030-01-03T00:00:00.000Z'),
      ).toEqual([sha]);
      expect(await store.blobIndex.beginBlobDelete('local', sha, '2030-01-03T00:00:00.000Z')).toBe(true);
      await store.blobIndex.finishBlobDelete('local', sha);
      expect(await store.blobIndex.listBlobs('local', { limit: 10 })).toEqual([]);
    } finally {
      store.close();
    }
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    const blobColumns = (check.prepare('PRAGMA table_info(blobs)').all() as { name: string }[]).map((c) => c.name);
    expect(blobColumns).toEqual(expect.arrayContaining(['condemned_at', 'deleting']));
    check.close();
  });

  it('a v3 database (before blob GC) gains the blob GC columns; existing blobs are not deleting', async () => {
    const path = dbFile();
    // A fresh current database, turned back into v3: the blobs table without the v4 columns.
    openStores(path).close();
    const old = new Database(path);
    old.exec(`
      DROP TABLE blobs;
      CREATE TABLE blobs (team TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, verified INTEGER NOT NULL,
        created_at TEXT NOT NULL, PRIMARY KEY (team, sha256)) WITHOUT ROWID;
      INSERT INTO blobs VALUES ('t', '${'b'.repeat(64)}', 3, 0, '2030-01-01T00:00:00.000Z');
      PRAGMA user_version = 3;
    `);
    old.close();
    const store = openStores(path);
    try {
      const sha = 'b'.repeat(64);
      expect(await store.blobIndex.listBlobs('t', { limit: 10 })).toStrictEqual([
        { sha256: sha, size: 3, verified: false, createdAt: '2030-01-01T00:00:00.000Z', deleting: false },
      ]);
      expect(await store.blobIndex.beginBlobDelete('t', sha, '2030-01-02T00:00:00.000Z')).toBe(false);
      await store.blobIndex.putBlobs('t', [{ sha256: sha, size: 3, verified: true }]);
      expect((await store.blobIndex.findBlobs('t', [sha])).get(sha)).toStrictEqual({
        sha256: sha,
        size: 3,
        verified: true,
      });
    } finally {
      store.close();
    }
    const check = new Database(path, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    check.close();
  });
});
