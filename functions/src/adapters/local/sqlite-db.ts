import type Database from 'better-sqlite3';
import { StudioError } from '../../contract/errors.ts';
import { openPrivateDatabase } from './private-files.ts';
import { MIGRATIONS, SCHEMA_SQL, SCHEMA_VERSION } from './sqlite-schema.ts';

/**
 * THE connection of one process to the local metadata file: every SQLite adapter of the embedded backend (stores,
 * job store, audit log, task queue, sign-in codes) shares it. Several processes may open the same file (WAL; writes
 * take BEGIN IMMEDIATE and wait up to busy_timeout for each other).
 */
export interface SqliteDb {
  readonly db: Database.Database;
  /**
   * `fn` as one write transaction (BEGIN IMMEDIATE: the read-check-write inside is atomic across processes); its
   * errors come back as StudioErrors (sqliteError).
   */
  write<A extends unknown[], R>(what: string, fn: (...args: A) => R): (...args: A) => R;
  /** Closes the connection; idempotent. */
  close(): void;
}

/** Maps a driver error to a coded one: a busy/locked database is E_UNAVAILABLE (retry), anything else E_INTERNAL. */
export function sqliteError(err: unknown, what: string): StudioError {
  if (err instanceof StudioError) return err;
  const code = (err as { code?: unknown }).code;
  const busy = code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
  return new StudioError(busy ? 'E_UNAVAILABLE' : 'E_INTERNAL', `local database: ${what} failed`, { cause: err });
}

/** Whether a driver error is a violated PRIMARY KEY or UNIQUE constraint (an insert of something that exists). */
export function isConstraintError(err: unknown): boolean {
  return String((err as { code?: unknown }).code).startsWith('SQLITE_CONSTRAINT');
}

/** Brings the file to SCHEMA_VERSION in one transaction: the whole schema when fresh, else each missing migration. */
function migrate(db: Database.Database, path: string): void {
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new StudioError('E_INTERNAL', `metadata database ${path} is from a newer studio-lite (schema ${current})`);
  }
  if (current === SCHEMA_VERSION) return;
  db.transaction(() => {
    const at = db.pragma('user_version', { simple: true }) as number;
    const fresh = !db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'experiments'").get();
    if (fresh) db.exec(SCHEMA_SQL);
    else
      for (let v = Math.max(at, 1) + 1; v <= SCHEMA_VERSION; v++) {
        const step = MIGRATIONS[v] ?? '';
        if (typeof step === 'string') db.exec(step);
        else step(db);
      }
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();
}

/** Opens (creating 0600 if needed) and migrates the metadata database at `path` (':memory:' for tests). */
export function openSqliteDb(path: string): SqliteDb {
  const db = openPrivateDatabase(path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  db.pragma('foreign_keys = ON');
  try {
    migrate(db, path);
  } catch (err) {
    db.close();
    throw err;
  }
  return {
    db,
    write<A extends unknown[], R>(what: string, fn: (...args: A) => R) {
      const tx = db.transaction(fn);
      return (...args: A): R => {
        try {
          return tx.immediate(...args);
        } catch (err) {
          throw sqliteError(err, what);
        }
      };
    },
    close() {
      if (db.open) db.close();
    },
  };
}
