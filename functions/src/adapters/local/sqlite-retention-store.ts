import { StudioError } from '../../contract/errors.ts';
import type { RetentionPolicy } from '../../contract/model.ts';
import type { RetentionStore } from '../../core/ports.ts';
import { type SqliteDb, sqliteError } from './sqlite-db.ts';

interface Row {
  team: string;
  project: string;
  data: string;
  updated_at: string;
}

/** The `project` of the team's own policy: a primary key does not dedupe NULLs, and no project is named ''. */
const TEAM_POLICY = '';

const policy = (r: Row): RetentionPolicy => ({
  ...(JSON.parse(r.data) as RetentionPolicy),
  team: r.team,
  project: r.project === TEAM_POLICY ? null : r.project,
});

/** Team first, then by project (UTF-16 order, as in every adapter). */
const teamFirst = (a: RetentionPolicy, b: RetentionPolicy) => {
  const [x, y] = [a.project ?? '', b.project ?? ''];
  return x === y ? 0 : x < y ? -1 : 1;
};

/**
 * RetentionStore on the metadata database (table `retention_policies`, sqlite-schema.ts version 8): one row per
 * (team, project), the team's own under project ''. A delete reads and removes in one write transaction
 * (`BEGIN IMMEDIATE`), so of concurrent deletes exactly one returns the policy.
 */
export function createSqliteRetentionStore(sdb: SqliteDb): RetentionStore {
  const { db } = sdb;
  const q = {
    get: db.prepare('SELECT * FROM retention_policies WHERE team = ? AND project = ?'),
    upsert: db.prepare(
      `INSERT INTO retention_policies (team, project, data, updated_at) VALUES (?, ?, ?, ?)
       ON CONFLICT (team, project) DO UPDATE SET data = excluded.data, updated_at = excluded.updated_at`,
    ),
    list: db.prepare('SELECT * FROM retention_policies WHERE team = ?'),
    del: db.prepare('DELETE FROM retention_policies WHERE team = ? AND project = ?'),
    teams: db.prepare('SELECT DISTINCT team FROM retention_policies ORDER BY team'),
  };
  const set = sdb.write('retention store: set', (p: RetentionPolicy) => {
    q.upsert.run(p.team, p.project ?? TEAM_POLICY, JSON.stringify(p), p.updatedAt);
  });
  const remove = sdb.write('retention store: delete', (team: string, project: string) => {
    const old = q.get.get(team, project) as Row | undefined;
    if (old) q.del.run(team, project);
    return old ? policy(old) : null;
  });
  const run = <T>(what: string, fn: () => T): Promise<T> => {
    try {
      return Promise.resolve(fn());
    } catch (err) {
      return Promise.reject(sqliteError(err, `retention store: ${what}`));
    }
  };
  return {
    setPolicy: (p) =>
      run('set', () => {
        if (!p.team || p.project === TEAM_POLICY) {
          throw new StudioError('E_BAD_REQUEST', `invalid retention policy identifier "${p.team}/${p.project}"`);
        }
        set(p);
      }),
    getPolicy: (team, project) =>
      run('get', () => {
        if (project === TEAM_POLICY) return null;
        const row = q.get.get(team, project ?? TEAM_POLICY) as Row | undefined;
        return row ? policy(row) : null;
      }),
    listPolicies: (team) => run('list', () => (q.list.all(team) as Row[]).map(policy).sort(teamFirst)),
    deletePolicy: (team, project) =>
      run('delete', () => (project === TEAM_POLICY ? null : remove(team, project ?? TEAM_POLICY))),
    teamsWithPolicies: () => run('teams', () => (q.teams.all() as { team: string }[]).map((r) => r.team)),
  };
}
