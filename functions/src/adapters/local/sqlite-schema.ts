/** Schema of the embedded metadata database; bump SCHEMA_VERSION with a migration when it changes. */
export const SCHEMA_VERSION = 4;

/** Statements that bring a database at version N-1 to N (index = N). Fresh databases get SCHEMA_SQL directly. */
export const MIGRATIONS: Record<number, string> = {
  2: `ALTER TABLE users ADD COLUMN email TEXT;
      ALTER TABLE tokens ADD COLUMN binding TEXT;
      ALTER TABLE tokens ADD COLUMN label TEXT;
      CREATE UNIQUE INDEX IF NOT EXISTS users_by_email ON users (email);`,
  3: `CREATE TABLE IF NOT EXISTS teams (id TEXT PRIMARY KEY, created_by TEXT NOT NULL, created_at TEXT NOT NULL);`,
  4: `ALTER TABLE blobs ADD COLUMN condemned_at TEXT;
      ALTER TABLE blobs ADD COLUMN deleting INTEGER NOT NULL DEFAULT 0;`,
};

export const SCHEMA_SQL = `
CREATE TABLE IF NOT EXISTS experiments (
  team TEXT NOT NULL, key TEXT NOT NULL, project TEXT, status TEXT NOT NULL, created_at TEXT NOT NULL,
  data TEXT NOT NULL,
  PRIMARY KEY (team, key)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS experiments_by_time ON experiments (team, created_at DESC);
CREATE INDEX IF NOT EXISTS experiments_by_project ON experiments (team, project, created_at DESC);

CREATE TABLE IF NOT EXISTS artifacts (
  team TEXT NOT NULL, experiment TEXT NOT NULL, tag TEXT NOT NULL, mutable INTEGER NOT NULL,
  latest_version INTEGER NOT NULL, latest_digest TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
  PRIMARY KEY (team, experiment, tag)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS versions (
  team TEXT NOT NULL, experiment TEXT NOT NULL, tag TEXT NOT NULL, version INTEGER NOT NULL,
  digest TEXT NOT NULL, manifest_sha256 TEXT NOT NULL, files INTEGER NOT NULL, bytes INTEGER NOT NULL,
  stats TEXT NOT NULL, created_by TEXT NOT NULL, created_at TEXT NOT NULL,
  PRIMARY KEY (team, experiment, tag, version)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS blobs (
  team TEXT NOT NULL, sha256 TEXT NOT NULL, size INTEGER NOT NULL, verified INTEGER NOT NULL, created_at TEXT NOT NULL,
  condemned_at TEXT, deleting INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (team, sha256)
) WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS users (id TEXT PRIMARY KEY, name TEXT NOT NULL, created_at TEXT NOT NULL, email TEXT);
CREATE UNIQUE INDEX IF NOT EXISTS users_by_email ON users (email);

CREATE TABLE IF NOT EXISTS tokens (
  id TEXT PRIMARY KEY, user_id TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, kind TEXT NOT NULL, scopes TEXT NOT NULL,
  created_at TEXT NOT NULL, expires_at TEXT, revoked_at TEXT, binding TEXT, label TEXT
);
CREATE INDEX IF NOT EXISTS tokens_by_user ON tokens (user_id, created_at DESC);

CREATE TABLE IF NOT EXISTS teams (id TEXT PRIMARY KEY, created_by TEXT NOT NULL, created_at TEXT NOT NULL);

CREATE TABLE IF NOT EXISTS memberships (
  team TEXT NOT NULL, user_id TEXT NOT NULL, role TEXT NOT NULL, PRIMARY KEY (team, user_id)
) WITHOUT ROWID;
`;
