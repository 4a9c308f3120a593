import { StudioError } from '../../contract/errors.ts';
import type { ArtifactRecord, ExperimentRecord, VersionRecord } from '../../contract/model.ts';
import { type ExperimentMatch, experimentMatches } from '../../core/model.ts';
import {
  type CommitVersionInput,
  type ExperimentListQuery,
  type ExperimentStore,
  versionFromCommit,
} from '../../core/ports.ts';
import { type SqliteDb, sqliteError } from './sqlite-db.ts';

type Row = Record<string, unknown>;
type ExperimentPatch = Partial<Omit<ExperimentRecord, 'team' | 'key'>>;

const toVersion = (r: Row): VersionRecord => ({
  team: r.team as string,
  experiment: r.experiment as string,
  tag: r.tag as string,
  version: r.version as number,
  digest: r.digest as string,
  manifestSha256: r.manifest_sha256 as string,
  files: r.files as number,
  bytes: r.bytes as number,
  stats: JSON.parse(r.stats as string),
  createdBy: r.created_by as string,
  createdAt: r.created_at as string,
});

const toArtifact = (r: Row): ArtifactRecord => ({
  team: r.team as string,
  experiment: r.experiment as string,
  tag: r.tag as string,
  mutable: r.mutable === 1,
  latestVersion: r.latest_version as number,
  createdAt: r.created_at as string,
  updatedAt: r.updated_at as string,
});

function statements(db: SqliteDb['db']) {
  return {
    insertExp: db.prepare(
      'INSERT INTO experiments (team, key, project, status, created_at, data) VALUES (?, ?, ?, ?, ?, ?)',
    ),
    getExp: db.prepare('SELECT data FROM experiments WHERE team = ? AND key = ?'),
    updateExp: db.prepare('UPDATE experiments SET project = ?, status = ?, data = ? WHERE team = ? AND key = ?'),
    getArtifact: db.prepare('SELECT * FROM artifacts WHERE team = ? AND experiment = ? AND tag = ?'),
    insertArtifact: db.prepare(
      'INSERT INTO artifacts (team, experiment, tag, mutable, latest_version, latest_digest, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    bumpArtifact: db.prepare(
      'UPDATE artifacts SET latest_version = ?, latest_digest = ?, updated_at = ? WHERE team = ? AND experiment = ? AND tag = ?',
    ),
    insertVersion: db.prepare(
      'INSERT INTO versions (team, experiment, tag, version, digest, manifest_sha256, files, bytes, stats, created_by, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    getVersion: db.prepare('SELECT * FROM versions WHERE team = ? AND experiment = ? AND tag = ? AND version = ?'),
    listArtifacts: db.prepare('SELECT * FROM artifacts WHERE team = ? AND experiment = ? ORDER BY tag'),
    listVersions: db.prepare('SELECT * FROM versions WHERE team = ? AND experiment = ? AND tag = ? ORDER BY version'),
    delVersions: db.prepare('DELETE FROM versions WHERE team = ? AND experiment = ?'),
    delVersion: db.prepare('DELETE FROM versions WHERE team = ? AND experiment = ? AND tag = ? AND version = ?'),
    delArtifacts: db.prepare('DELETE FROM artifacts WHERE team = ? AND experiment = ?'),
    delExp: db.prepare('DELETE FROM experiments WHERE team = ? AND key = ?'),
  };
}
type Statements = ReturnType<typeof statements>;

/** The compare-and-append of a version: runs inside one write transaction. */
function commitIn(q: Statements, input: CommitVersionInput): { version: VersionRecord; created: boolean } {
  const { team, experiment, tag } = input;
  const art = q.getArtifact.get(team, experiment, tag) as Row | undefined;
  if (art) {
    if ((art.mutable === 1) !== input.mutable) {
      throw new StudioError('E_CONFLICT', `artifact ${experiment}/${tag} is ${art.mutable ? 'mutable' : 'immutable'}`);
    }
    if (art.latest_digest === input.digest) {
      return { version: toVersion(q.getVersion.get(team, experiment, tag, art.latest_version) as Row), created: false };
    }
    if (!input.mutable) {
      throw new StudioError('E_IMMUTABLE', `artifact ${experiment}/${tag} is immutable and already has a version`);
    }
  }
  const next = art ? (art.latest_version as number) + 1 : 1;
  const at = input.createdAt;
  if (art) q.bumpArtifact.run(next, input.digest, at, team, experiment, tag);
  else q.insertArtifact.run(team, experiment, tag, input.mutable ? 1 : 0, next, input.digest, at, at);
  q.insertVersion.run(
    team,
    experiment,
    tag,
    next,
    input.digest,
    input.manifestSha256,
    input.files,
    input.bytes,
    JSON.stringify(input.stats),
    input.createdBy,
    at,
  );
  return { version: versionFromCommit(input, next), created: true };
}

/** The experiment record's compare-and-set: runs inside one write transaction. */
function updateIn(
  q: Statements,
  team: string,
  key: string,
  patch: ExperimentPatch,
  fromStatuses?: ExperimentRecord['status'][],
  match?: ExperimentMatch,
): ExperimentRecord {
  const row = q.getExp.get(team, key) as Row | undefined;
  if (!row) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  const cur = JSON.parse(row.data as string) as ExperimentRecord;
  if (fromStatuses && !fromStatuses.includes(cur.status)) {
    throw new StudioError('E_CONFLICT', `experiment ${key} is ${cur.status}`, { details: { status: cur.status } });
  }
  if (!experimentMatches(cur, match)) {
    throw new StudioError('E_CONFLICT', `experiment ${key} changed meanwhile (attempt ${cur.attempt ?? 1})`, {
      details: { status: cur.status },
    });
  }
  const next: ExperimentRecord = { ...cur, ...patch, team, key };
  q.updateExp.run(next.project, next.status, JSON.stringify(next), team, key);
  return next;
}

/** Built per call: every filter is optional; the (team, created_at) index gives the order, the key breaks ties. */
function listSql(team: string, query: ExperimentListQuery): { sql: string; args: unknown[] } {
  const limit = Math.min(Math.max(query.limit ?? 1000, 1), 10_000);
  const where = ['team = ?'];
  const args: unknown[] = [team];
  const filter = (clause: string, ...values: unknown[]) => {
    where.push(clause);
    args.push(...values);
  };
  if (query.project) filter('project = ?', query.project);
  if (query.status) filter('status = ?', query.status);
  if (query.owner) filter("json_extract(data, '$.owner') = ?", query.owner);
  if (query.after) {
    const { createdAt, key } = query.after;
    filter('(created_at < ? OR (created_at = ? AND key < ?))', createdAt, createdAt, key);
  }
  const sql = `SELECT data FROM experiments WHERE ${where.join(' AND ')} ORDER BY created_at DESC, key DESC LIMIT ?`;
  return { sql, args: [...args, limit] };
}

/** ExperimentStore on the local metadata database: each change is one BEGIN IMMEDIATE transaction. */
export function createSqliteExperimentStore(sdb: SqliteDb): ExperimentStore {
  const { db } = sdb;
  const q = statements(db);
  const update = sdb.write(
    'updateExperiment',
    (team: string, key: string, patch: ExperimentPatch, from?: ExperimentRecord['status'][], match?: ExperimentMatch) =>
      updateIn(q, team, key, patch, from, match),
  );
  const commit = sdb.write('commitVersion', (input: CommitVersionInput) => commitIn(q, input));
  const remove = sdb.write('deleteExperiment', (team: string, key: string) => {
    if (!q.getExp.get(team, key)) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
    const versions = q.delVersions.run(team, key).changes;
    const artifacts = q.delArtifacts.run(team, key).changes;
    q.delExp.run(team, key);
    return { artifacts, versions };
  });

  const removeVersions = sdb.write(
    'deleteVersions',
    (team: string, experiment: string, tag: string, versions: number[]): number[] => {
      const art = q.getArtifact.get(team, experiment, tag) as Row | undefined;
      if (!art) return [];
      if (versions.includes(art.latest_version as number)) {
        throw new StudioError('E_CONFLICT', `${experiment}/${tag}@${art.latest_version} is the latest version`);
      }
      return versions.filter((v) => q.delVersion.run(team, experiment, tag, v).changes === 1);
    },
  );

  return {
    async createExperiment(exp) {
      try {
        q.insertExp.run(exp.team, exp.key, exp.project, exp.status, exp.createdAt, JSON.stringify(exp));
      } catch (cause) {
        if ((cause as { code?: string }).code !== 'SQLITE_CONSTRAINT_PRIMARYKEY')
          throw sqliteError(cause, 'createExperiment');
        throw new StudioError('E_EXPERIMENT_EXISTS', `experiment ${exp.key} already exists`, { cause });
      }
    },
    async getExperiment(team, key) {
      const row = q.getExp.get(team, key) as Row | undefined;
      return row ? (JSON.parse(row.data as string) as ExperimentRecord) : null;
    },
    async updateExperiment(team, key, patch, fromStatuses, match) {
      return update(team, key, patch, fromStatuses, match);
    },
    async listExperiments(team, query) {
      const { sql, args } = listSql(team, query);
      return (db.prepare(sql).all(...args) as Row[]).map((r) => JSON.parse(r.data as string) as ExperimentRecord);
    },
    async deleteExperiment(team, key) {
      return remove(team, key);
    },
    async commitVersion(input) {
      return commit(input);
    },
    async deleteVersions(team, experiment, tag, versions) {
      return removeVersions(team, experiment, tag, [...new Set(versions)]);
    },
    async getVersion(team, experiment, tag, version) {
      let v = version;
      if (v === undefined) {
        const art = q.getArtifact.get(team, experiment, tag) as Row | undefined;
        if (!art) return null;
        v = art.latest_version as number;
      }
      const row = q.getVersion.get(team, experiment, tag, v) as Row | undefined;
      return row ? toVersion(row) : null;
    },
    async listArtifacts(team, experiment) {
      return (q.listArtifacts.all(team, experiment) as Row[]).map(toArtifact);
    },
    async listVersions(team, experiment, tag) {
      return (q.listVersions.all(team, experiment, tag) as Row[]).map(toVersion);
    },
  };
}
