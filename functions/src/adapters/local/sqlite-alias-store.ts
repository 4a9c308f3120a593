import type { AliasRecord, AliasStore } from '../../core/alias-store.ts';
import { type SqliteDb, sqliteError } from './sqlite-db.ts';

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

/**
 * AliasStore on the metadata database (table `aliases`, sqlite-schema.ts); read-then-write steps are one write
 * transaction (`BEGIN IMMEDIATE`), so processes sharing the file serialise.
 */
export function createSqliteAliasStore(sdb: SqliteDb): AliasStore {
  const { db } = sdb;
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
  const set = sdb.write('alias store: set', (r: AliasRecord) => {
    const old = q.get.get(r.team, r.experiment, r.tag, r.name) as Row | undefined;
    q.upsert.run(r.team, r.experiment, r.tag, r.name, r.version, r.updatedAt, r.updatedBy);
    return { previous: old ? old.version : null };
  });
  const remove = sdb.write('alias store: delete', (team: string, experiment: string, tag: string, name: string) => {
    const old = q.get.get(team, experiment, tag, name) as Row | undefined;
    if (old) q.del.run(team, experiment, tag, name);
    return old ? record(old) : null;
  });
  const run = <T>(what: string, fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(sqliteError(err, `alias store: ${what}`));
    }
  };
  return {
    setAlias: (r) => run('set', () => set(r)),
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
    deleteAlias: (team, experiment, tag, name) => run('delete', () => remove(team, experiment, tag, name)),
    deleteExperimentAliases: (team, experiment) => run('delete', () => q.delExp.run(team, experiment).changes),
  };
}
