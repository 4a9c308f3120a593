import { StudioError } from '../../contract/errors.ts';
import type { AuditEntry } from '../../contract/model.ts';
import type { AuditLog } from '../../core/ports.ts';
import { openPrivateDatabase } from './private-files.ts';

export interface SqliteAuditLogOptions {
  /** Database file (the metadata database is fine: the log keeps to its own table), or ':memory:' for tests. */
  path: string;
}

/**
 * Append-only below the API too: triggers abort every UPDATE and DELETE, and an INSERT that would replace an entry
 * (INSERT OR REPLACE deletes without firing delete triggers), so not even a bug in this process rewrites history.
 */
const SCHEMA = `
CREATE TABLE IF NOT EXISTS audit_log (
  team TEXT NOT NULL, id TEXT NOT NULL, action TEXT NOT NULL, data TEXT NOT NULL,
  PRIMARY KEY (team, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS audit_log_by_action ON audit_log (team, action, id);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_replace BEFORE INSERT ON audit_log
WHEN EXISTS (SELECT 1 FROM audit_log WHERE team = NEW.team AND id = NEW.id)
BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
`;

function wrap(err: unknown, what: string): StudioError {
  if (err instanceof StudioError) return err;
  const code = (err as { code?: unknown }).code;
  const busy = code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
  return new StudioError(busy ? 'E_UNAVAILABLE' : 'E_INTERNAL', `local audit log: ${what} failed`, { cause: err });
}

/** AuditLog on SQLite (WAL), shareable by several processes. */
export function createSqliteAuditLog(opts: SqliteAuditLogOptions): AuditLog & { close(): void } {
  const db = openPrivateDatabase(opts.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  db.exec(SCHEMA);
  const q = {
    insert: db.prepare('INSERT INTO audit_log (team, id, action, data) VALUES (?, ?, ?, ?)'),
    list: db.prepare(
      'SELECT data FROM audit_log WHERE team = ? AND (? IS NULL OR id < ?) AND (? IS NULL OR action = ?) ORDER BY id DESC LIMIT ?',
    ),
  };
  return {
    async append(entry: AuditEntry) {
      try {
        q.insert.run(entry.team, entry.id, entry.action, JSON.stringify(entry));
      } catch (err) {
        const m = String((err as Error).message);
        if (m.includes('append-only') || (err as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new StudioError('E_CONFLICT', `audit entry ${entry.id} already exists`, { cause: err });
        }
        throw wrap(err, 'append');
      }
    },
    async list(team, query) {
      try {
        const before = query.before ?? null;
        const action = query.action ?? null;
        const rows = q.list.all(team, before, before, action, action, query.limit) as { data: string }[];
        return rows.map((r) => JSON.parse(r.data) as AuditEntry);
      } catch (err) {
        throw wrap(err, 'list');
      }
    },
    close() {
      db.close();
    },
  };
}
