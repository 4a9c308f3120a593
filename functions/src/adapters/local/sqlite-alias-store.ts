import { StudioError } from '../../contract/errors.ts';
import type { AliasRecord, AliasStore } from '../../core/alias-store.ts';
import { openPrivateDatabase } from './private-files.ts';

export interface SqliteAliasStoreOptions {
  /** Database file (the metadata database: aliases keep to their own table), or ':memory:' for tests. */
  path: string;
}

/** The alias table; created by the store itself until the schema moves to one place with the rest. */
export const ALIAS_SCHEMA = `
CREATE TABLE IF NOT EXISTS aliases (
  team TEXT NOT NULL, experiment TEXT NOT NULL, tag TEXT NOT NULL, name TEXT NOT NULL,
  version INTEGER NOT NULL, updated_at TEXT NOT NULL, updated_by TEXT NOT NULL,
  PRIMARY KEY (team, experiment, tag, name)
) WITHOUT ROWID;
`;

interface Row {
  team: string;
  experiment: string;
  tag: string;
  name: string;
  version: number;
  updated_at: string;
  updated_by: string;
}

const record = (r: Row): AliasRecord => ({
  team: r.team,
  experiment: r.experiment,
  tag: r.tag,
  name: r.name,
  version: r.version,
  updatedAt: r.updated_at,
  updatedBy: r.updated_by,
});

function wrap(err: unknown, what: string): StudioError {
  if (err instanceof StudioError) return err;
  const code = (err as { code?: unknown }).code;
  const busy = code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED';
  return new StudioError(busy ? 'E_UNAVAILABLE' : 'E_INTERNAL', `local alias store: ${what} failed`, { cause: err });
}

/** AliasStore on SQLite (WAL); read-then-write steps run in `BEGIN IMMEDIATE` so processes sharing the file serialise. */
export function createSqliteAliasStore(opts: SqliteAliasStoreOptions): AliasStore & { close(): void } {
  const db = openPrivateDatabase(opts.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  db.exec(ALIAS_SCHEMA);
  const q = {
    get: db.prepare('SELECT * FROM aliases WHERE team = ? AND experiment = ? AND tag = ? AND name = ?'),
    upsert: db.prepare(
      `INSERT INTO aliases (team, experiment, tag, name, version, updated_at, updated_by) VALUES (?, ?, ?, ?, ?, ?, ?)
       ON CONFLICT (team, experiment, tag, name) DO UPDATE SET
         version = excluded.version, updated_at = excluded.updated_at, updated_by = excluded.updated_by`,
    ),
    listTag: db.prepare('SELECT * FROM aliases WHERE team = ? AND experiment = ? AND tag = ? ORDER BY name'),
    listAll: db.prepare('SELECT * FROM aliases WHERE team = ? AND experiment = ? ORDER BY tag, name'),
    del: db.prepare('DELETE FROM aliases WHERE team = ? AND experiment = ? AND tag = ? AND name = ?'),
    delExp: db.prepare('DELETE FROM aliases WHERE team = ? AND experiment = ?'),
  };
  const set = db.transaction((r: AliasRecord) => {
    const old = q.get.get(r.team, r.experiment, r.tag, r.name) as Row | undefined;
    q.upsert.run(r.team, r.experiment, r.tag, r.name, r.version, r.updatedAt, r.updatedBy);
    return { previous: old ? old.version : null };
  });
  const remove = db.transaction((team: string, experiment: string, tag: string, name: string) => {
    const old = q.get.get(team, experiment, tag, name) as Row | undefined;
    if (old) q.del.run(team, experiment, tag, name);
    return old ? record(old) : null;
  });
  const run = <T>(what: string, fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(wrap(err, what));
    }
  };
  return {
    setAlias: (r) => run('set', () => set.immediate(r)),
    getAlias: (team, experiment, tag, name) =>
      run('get', () => {
        const row = q.get.get(team, experiment, tag, name) as Row | undefined;
        return row ? record(row) : null;
      }),
    listAliases: (team, experiment, tag) =>
      run('list', () =>
        ((tag === undefined ? q.listAll.all(team, experiment) : q.listTag.all(team, experiment, tag)) as Row[]).map(
          record,
        ),
      ),
    deleteAlias: (team, experiment, tag, name) => run('delete', () => remove.immediate(team, experiment, tag, name)),
    deleteExperimentAliases: (team, experiment) => run('delete', () => q.delExp.run(team, experiment).changes),
    close() {
      db.close();
    },
  };
}
