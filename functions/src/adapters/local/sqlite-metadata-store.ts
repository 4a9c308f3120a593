import { StudioError } from '../../contract/errors.ts';
import type { ArtifactRecord, ExperimentRecord, Role, TeamRecord, VersionRecord } from '../../contract/model.ts';
import {
  type BlobRecord,
  type ExperimentMatch,
  experimentMatches,
  type StoredBlobRecord,
  type TokenRecord,
  type UserRecord,
} from '../../core/model.ts';
import {
  type CommitVersionInput,
  type ExperimentListQuery,
  type MetadataStore,
  versionFromCommit,
} from '../../core/ports.ts';
import { openPrivateDatabase } from './private-files.ts';
import { MIGRATIONS, SCHEMA_SQL, SCHEMA_VERSION } from './sqlite-schema.ts';

export interface SqliteMetadataOptions {
  /** Database file, or ':memory:' for tests. */
  path: string;
}

type Row = Record<string, unknown>;

/** MetadataStore on SQLite (WAL). Safe for several processes on one machine: writes use BEGIN IMMEDIATE. */
export function createSqliteMetadataStore(opts: SqliteMetadataOptions): MetadataStore & { close(): void } {
  const db = openPrivateDatabase(opts.path);
  db.pragma('journal_mode = WAL');
  db.pragma('synchronous = NORMAL');
  db.pragma('busy_timeout = 10000');
  db.pragma('foreign_keys = ON');
  const current = db.pragma('user_version', { simple: true }) as number;
  if (current > SCHEMA_VERSION) {
    throw new StudioError(
      'E_INTERNAL',
      `metadata database ${opts.path} is from a newer studio-lite (schema ${current})`,
    );
  }
  db.transaction(() => {
    const at = db.pragma('user_version', { simple: true }) as number;
    const fresh = !db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'experiments'").get();
    if (fresh) db.exec(SCHEMA_SQL);
    else for (let v = Math.max(at, 1) + 1; v <= SCHEMA_VERSION; v++) db.exec(MIGRATIONS[v] ?? '');
    db.pragma(`user_version = ${SCHEMA_VERSION}`);
  }).immediate();

  const q = {
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
    // A record being deleted (deleting = 1) counts as absent for findBlobs.
    getBlob: db.prepare(
      'SELECT sha256, size, verified, condemned_at FROM blobs WHERE team = ? AND sha256 = ? AND deleting = 0',
    ),
    isDeleting: db.prepare('SELECT 1 FROM blobs WHERE team = ? AND sha256 = ? AND deleting = 1'),
    putBlob: db.prepare(
      'INSERT INTO blobs (team, sha256, size, verified, created_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (team, sha256) DO UPDATE SET verified = MAX(verified, excluded.verified), condemned_at = NULL',
    ),
    listBlobs: db.prepare('SELECT * FROM blobs WHERE team = ? AND sha256 > ? ORDER BY sha256 LIMIT ?'),
    // changes = 1 when created or newly condemned; 0 when already condemned or deleting (the WHERE of DO UPDATE).
    condemnBlob: db.prepare(
      'INSERT INTO blobs (team, sha256, size, verified, created_at, condemned_at) VALUES (?, ?, ?, 0, ?, ?) ON CONFLICT (team, sha256) DO UPDATE SET condemned_at = excluded.condemned_at WHERE blobs.condemned_at IS NULL AND blobs.deleting = 0',
    ),
    absolveBlob: db.prepare(
      'UPDATE blobs SET condemned_at = NULL WHERE team = ? AND sha256 = ? AND deleting = 0 AND condemned_at IS NOT NULL',
    ),
    // One statement, so the compare and the set are one step; an already deleting record matches too (changes = 1).
    beginBlobDelete: db.prepare(
      'UPDATE blobs SET deleting = 1 WHERE team = ? AND sha256 = ? AND (deleting = 1 OR condemned_at = ?)',
    ),
    finishBlobDelete: db.prepare('DELETE FROM blobs WHERE team = ? AND sha256 = ? AND deleting = 1'),
    putUser: db.prepare(
      'INSERT INTO users (id, name, created_at, email) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = COALESCE(excluded.email, users.email)',
    ),
    getUser: db.prepare('SELECT * FROM users WHERE id = ?'),
    listUsers: db.prepare('SELECT * FROM users ORDER BY id'),
    getUserByEmail: db.prepare('SELECT * FROM users WHERE email = ?'),
    putToken: db.prepare(
      'INSERT INTO tokens (id, user_id, hash, kind, scopes, created_at, expires_at, revoked_at, binding, label) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
    ),
    getTokenByHash: db.prepare('SELECT * FROM tokens WHERE hash = ?'),
    getToken: db.prepare('SELECT * FROM tokens WHERE id = ?'),
    listTokens: db.prepare('SELECT * FROM tokens WHERE user_id = ? ORDER BY created_at DESC, id DESC'),
    // A scan: a box has few tokens; binding is JSON text written only by putToken.
    listTeamTokens: db.prepare(
      "SELECT * FROM tokens WHERE json_extract(binding, '$.team') = ? ORDER BY created_at DESC, id DESC",
    ),
    revokeToken: db.prepare('UPDATE tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?'),
    setMember: db.prepare(
      'INSERT INTO memberships (team, user_id, role) VALUES (?, ?, ?) ON CONFLICT (team, user_id) DO UPDATE SET role = excluded.role',
    ),
    delMember: db.prepare('DELETE FROM memberships WHERE team = ? AND user_id = ?'),
    getMembers: db.prepare('SELECT team, role FROM memberships WHERE user_id = ?'),
    getRole: db.prepare('SELECT role FROM memberships WHERE team = ? AND user_id = ?'),
    countAdmins: db.prepare("SELECT COUNT(*) AS n FROM memberships WHERE team = ? AND role = 'admin'"),
    teamMembers: db.prepare('SELECT user_id, role FROM memberships WHERE team = ? ORDER BY user_id'),
    insertTeam: db.prepare('INSERT INTO teams (id, created_by, created_at) VALUES (?, ?, ?)'),
    getTeam: db.prepare('SELECT * FROM teams WHERE id = ?'),
    delVersions: db.prepare('DELETE FROM versions WHERE team = ? AND experiment = ?'),
    delArtifacts: db.prepare('DELETE FROM artifacts WHERE team = ? AND experiment = ?'),
    delExp: db.prepare('DELETE FROM experiments WHERE team = ? AND key = ?'),
  };

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
  const toToken = (r: Row): TokenRecord => ({
    id: r.id as string,
    userId: r.user_id as string,
    hash: r.hash as string,
    kind: r.kind as TokenRecord['kind'],
    scopes: JSON.parse(r.scopes as string),
    createdAt: r.created_at as string,
    expiresAt: (r.expires_at as string | null) ?? null,
    revokedAt: (r.revoked_at as string | null) ?? null,
    binding: r.binding ? JSON.parse(r.binding as string) : null,
    label: (r.label as string | null) ?? null,
  });
  const toUser = (r: Row): UserRecord => ({
    id: r.id as string,
    name: r.name as string,
    email: (r.email as string | null) ?? null,
    createdAt: r.created_at as string,
  });

  const commit = db.transaction((input: CommitVersionInput): { version: VersionRecord; created: boolean } => {
    const { team, experiment, tag } = input;
    const art = q.getArtifact.get(team, experiment, tag) as Row | undefined;
    if (art) {
      if ((art.mutable === 1) !== input.mutable) {
        throw new StudioError(
          'E_CONFLICT',
          `artifact ${experiment}/${tag} is ${art.mutable ? 'mutable' : 'immutable'}`,
        );
      }
      if (art.latest_digest === input.digest) {
        return {
          version: toVersion(q.getVersion.get(team, experiment, tag, art.latest_version) as Row),
          created: false,
        };
      }
      if (!input.mutable) {
        throw new StudioError('E_IMMUTABLE', `artifact ${experiment}/${tag} is immutable and already has a version`);
      }
    }
    const next = art ? (art.latest_version as number) + 1 : 1;
    if (art) q.bumpArtifact.run(next, input.digest, input.createdAt, team, experiment, tag);
    else
      q.insertArtifact.run(
        team,
        experiment,
        tag,
        input.mutable ? 1 : 0,
        next,
        input.digest,
        input.createdAt,
        input.createdAt,
      );
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
      input.createdAt,
    );
    return { version: versionFromCommit(input, next), created: true };
  });

  const update = db.transaction(
    (
      team: string,
      key: string,
      patch: Partial<Omit<ExperimentRecord, 'team' | 'key'>>,
      fromStatuses?: ExperimentRecord['status'][],
      match?: ExperimentMatch,
    ): ExperimentRecord => {
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
    },
  );

  const setMember = db.transaction((team: string, userId: string, role: Role | null, keepAdmin: boolean) => {
    if (keepAdmin && role !== 'admin') {
      const cur = q.getRole.get(team, userId) as Row | undefined;
      if (cur?.role === 'admin' && (q.countAdmins.get(team) as { n: number }).n <= 1) {
        throw new StudioError(
          'E_CONFLICT',
          `${userId} is the last admin of team ${team}; make someone else admin first`,
        );
      }
    }
    if (role === null) q.delMember.run(team, userId);
    else q.setMember.run(team, userId, role);
  });

  const deleteExp = db.transaction((team: string, key: string) => {
    if (!q.getExp.get(team, key)) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
    const versions = q.delVersions.run(team, key).changes;
    const artifacts = q.delArtifacts.run(team, key).changes;
    q.delExp.run(team, key);
    return { artifacts, versions };
  });

  const toStoredBlob = (r: Row): StoredBlobRecord => ({
    sha256: r.sha256 as string,
    size: r.size as number,
    verified: r.verified === 1,
    ...(r.condemned_at != null ? { condemnedAt: r.condemned_at as string } : {}),
    createdAt: r.created_at as string,
    deleting: r.deleting === 1,
  });

  const putBlobs = db.transaction((team: string, blobs: BlobRecord[], now: string) => {
    // Checked before any write, so a refused call writes nothing (the transaction would roll it back anyway).
    const deleting = [...new Set(blobs.map((b) => b.sha256))].filter((sha) => q.isDeleting.get(team, sha));
    if (deleting.length > 0) {
      throw new StudioError('E_CONFLICT', `${deleting.length} blob(s) are being deleted by garbage collection`, {
        details: { deleting },
      });
    }
    for (const b of blobs) q.putBlob.run(team, b.sha256, b.size, b.verified ? 1 : 0, now);
  });

  const condemnBlobs = db.transaction(
    (team: string, blobs: { sha256: string; size: number }[], at: string, now: string): string[] => {
      const changed: string[] = [];
      for (const b of blobs) {
        if (q.condemnBlob.run(team, b.sha256, b.size, now, at).changes > 0) changed.push(b.sha256);
      }
      return changed;
    },
  );

  const absolveBlobs = db.transaction((team: string, sha256s: string[]) => {
    for (const sha of sha256s) q.absolveBlob.run(team, sha);
  });

  return {
    async createExperiment(exp) {
      try {
        q.insertExp.run(exp.team, exp.key, exp.project, exp.status, exp.createdAt, JSON.stringify(exp));
      } catch (cause) {
        if ((cause as { code?: string }).code === 'SQLITE_CONSTRAINT_PRIMARYKEY') {
          throw new StudioError('E_EXPERIMENT_EXISTS', `experiment ${exp.key} already exists`, { cause });
        }
        throw cause;
      }
    },
    async getExperiment(team, key) {
      const row = q.getExp.get(team, key) as Row | undefined;
      return row ? (JSON.parse(row.data as string) as ExperimentRecord) : null;
    },
    async updateExperiment(team, key, patch, fromStatuses, match) {
      return update.immediate(team, key, patch, fromStatuses, match);
    },
    async listExperiments(team, query: ExperimentListQuery) {
      const limit = Math.min(Math.max(query.limit ?? 1000, 1), 10_000);
      // Built per call: every filter is optional; the (team, created_at) index gives the order, the key breaks ties.
      const where = ['team = ?'];
      const args: unknown[] = [team];
      const filter = (clause: string, value: unknown) => {
        where.push(clause);
        args.push(value);
      };
      if (query.project) filter('project = ?', query.project);
      if (query.status) filter('status = ?', query.status);
      if (query.owner) filter("json_extract(data, '$.owner') = ?", query.owner);
      if (query.after) {
        where.push('(created_at < ? OR (created_at = ? AND key < ?))');
        args.push(query.after.createdAt, query.after.createdAt, query.after.key);
      }
      const sql = `SELECT data FROM experiments WHERE ${where.join(' AND ')} ORDER BY created_at DESC, key DESC LIMIT ?`;
      const rows = db.prepare(sql).all(...args, limit) as Row[];
      return rows.map((r) => JSON.parse(r.data as string) as ExperimentRecord);
    },
    async commitVersion(input) {
      return commit.immediate(input);
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
    async findBlobs(team, sha256s) {
      const found = new Map<string, BlobRecord>();
      // One read transaction so a large batch sees one snapshot and costs one lock.
      db.transaction(() => {
        for (const sha of sha256s) {
          const r = q.getBlob.get(team, sha) as Row | undefined;
          if (!r) continue;
          const rec: BlobRecord = { sha256: sha, size: r.size as number, verified: r.verified === 1 };
          if (r.condemned_at != null) rec.condemnedAt = r.condemned_at as string;
          found.set(sha, rec);
        }
      })();
      return found;
    },
    async putBlobs(team, blobs) {
      putBlobs.immediate(team, blobs, new Date().toISOString());
    },
    async listBlobs(team, query) {
      const limit = Math.max(Math.trunc(query.limit) || 1, 1);
      return (q.listBlobs.all(team, query.after ?? '', limit) as Row[]).map(toStoredBlob);
    },
    async condemnBlobs(team, blobs, at) {
      return condemnBlobs.immediate(team, blobs, at, new Date().toISOString());
    },
    async absolveBlobs(team, sha256s) {
      absolveBlobs.immediate(team, sha256s);
    },
    async beginBlobDelete(team, sha256, condemnedAt) {
      return q.beginBlobDelete.run(team, sha256, condemnedAt).changes > 0;
    },
    async finishBlobDelete(team, sha256) {
      q.finishBlobDelete.run(team, sha256);
    },
    async putUser(user: UserRecord) {
      try {
        q.putUser.run(user.id, user.name, user.createdAt, user.email ? user.email.toLowerCase() : null);
      } catch (cause) {
        if (String((cause as Error).message).includes('UNIQUE')) {
          throw new StudioError('E_CONFLICT', `another user already has the email ${user.email}`, { cause });
        }
        throw cause;
      }
    },
    async listUsers() {
      return (q.listUsers.all() as Row[]).map(toUser);
    },
    async getUser(id) {
      const r = q.getUser.get(id) as Row | undefined;
      return r ? toUser(r) : null;
    },
    async findUserByEmail(email) {
      const r = q.getUserByEmail.get(email.toLowerCase()) as Row | undefined;
      return r ? toUser(r) : null;
    },
    async putToken(t) {
      q.putToken.run(
        t.id,
        t.userId,
        t.hash,
        t.kind,
        JSON.stringify(t.scopes),
        t.createdAt,
        t.expiresAt,
        t.revokedAt,
        t.binding ? JSON.stringify(t.binding) : null,
        t.label ?? null,
      );
    },
    async getTokenByHash(hash) {
      const r = q.getTokenByHash.get(hash) as Row | undefined;
      return r ? toToken(r) : null;
    },
    async getToken(id) {
      const r = q.getToken.get(id) as Row | undefined;
      return r ? toToken(r) : null;
    },
    async listTokens(userId) {
      return (q.listTokens.all(userId) as Row[]).map(toToken);
    },
    async listTeamTokens(team) {
      return (q.listTeamTokens.all(team) as Row[]).map(toToken);
    },
    async revokeToken(id, at) {
      q.revokeToken.run(at, id);
    },
    async setMembership(team, userId, role: Role | null, opts) {
      setMember.immediate(team, userId, role, opts?.keepAdmin === true);
    },
    async getMemberships(userId) {
      const out: Record<string, Role> = {};
      for (const r of q.getMembers.all(userId) as Row[]) out[r.team as string] = r.role as Role;
      return out;
    },
    async createTeam(team: TeamRecord) {
      try {
        q.insertTeam.run(team.id, team.createdBy, team.createdAt);
      } catch (cause) {
        if (String((cause as { code?: string }).code).startsWith('SQLITE_CONSTRAINT')) {
          throw new StudioError('E_CONFLICT', `team ${team.id} already exists`, { cause });
        }
        throw cause;
      }
    },
    async getTeam(id) {
      const r = q.getTeam.get(id) as Row | undefined;
      return r ? { id: r.id as string, createdBy: r.created_by as string, createdAt: r.created_at as string } : null;
    },
    async listTeamMembers(team) {
      return (q.teamMembers.all(team) as Row[]).map((r) => ({ userId: r.user_id as string, role: r.role as Role }));
    },
    async deleteExperiment(team, key) {
      return deleteExp.immediate(team, key);
    },
    close() {
      db.close();
    },
  };
}
