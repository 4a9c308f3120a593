import { StudioError } from '../../contract/errors.ts';
import type { TokenRecord } from '../../core/model.ts';
import type { TokenStore } from '../../core/ports.ts';
import { isConstraintError, type SqliteDb, sqliteError } from './sqlite-db.ts';

type Row = Record<string, unknown>;

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

/** TokenStore on the local metadata database. */
export function createSqliteTokenStore(sdb: SqliteDb): TokenStore {
  const { db } = sdb;
  const q = {
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
  };
  const one = (r: unknown) => (r ? toToken(r as Row) : null);

  return {
    async putToken(t) {
      try {
        const binding = t.binding ? JSON.stringify(t.binding) : null;
        const scopes = JSON.stringify(t.scopes);
        q.putToken.run(
          t.id,
          t.userId,
          t.hash,
          t.kind,
          scopes,
          t.createdAt,
          t.expiresAt,
          t.revokedAt,
          binding,
          t.label ?? null,
        );
      } catch (cause) {
        if (!isConstraintError(cause)) throw sqliteError(cause, 'putToken');
        throw new StudioError('E_CONFLICT', `a token with this id or hash already exists (${t.id})`, { cause });
      }
    },
    async getTokenByHash(hash) {
      return one(q.getTokenByHash.get(hash));
    },
    async getToken(id) {
      return one(q.getToken.get(id));
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
  };
}
