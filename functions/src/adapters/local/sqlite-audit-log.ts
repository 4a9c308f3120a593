import { StudioError } from '../../contract/errors.ts';
import type { AuditEntry } from '../../contract/model.ts';
import type { AuditLog } from '../../core/ports.ts';
import { type SqliteDb, sqliteError } from './sqlite-db.ts';

/**
 * AuditLog on the local metadata database. Append-only below the API too: triggers (sqlite-schema.ts) abort every
 * UPDATE, DELETE and replacing INSERT.
 */
export function createSqliteAuditLog(sdb: SqliteDb): AuditLog {
  const { db } = sdb;
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
        throw sqliteError(err, 'audit log: append');
      }
    },
    async list(team, query) {
      try {
        const before = query.before ?? null;
        const action = query.action ?? null;
        const rows = q.list.all(team, before, before, action, action, query.limit) as { data: string }[];
        return rows.map((r) => JSON.parse(r.data) as AuditEntry);
      } catch (err) {
        throw sqliteError(err, 'audit log: list');
      }
    },
  };
}
