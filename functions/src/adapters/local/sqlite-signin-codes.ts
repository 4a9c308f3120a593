import type { SigninCodeStore } from '../../core/ports/signin-code-store.ts';
import type { SqliteDb } from './sqlite-db.ts';

/** Sign-in codes in their own table of the metadata file, so `ui` and a running `serve` share them. */
export function createSqliteSigninCodes(sdb: SqliteDb): SigninCodeStore {
  const { db } = sdb;
  const insert = db.prepare('INSERT INTO signin_codes (hash, user_id, scopes, expires_at) VALUES (?, ?, ?, ?)');
  // One statement: the row is claimed and read atomically, so a code can be used once.
  const claim = db.prepare(
    'UPDATE signin_codes SET used_at = ? WHERE hash = ? AND used_at IS NULL AND expires_at > ? RETURNING user_id, scopes',
  );
  const sweep = db.prepare('DELETE FROM signin_codes WHERE expires_at < ?');
  return {
    async create(c) {
      sweep.run(new Date(Date.now() - 86_400_000).toISOString());
      insert.run(c.hash, c.userId, JSON.stringify(c.scopes), c.expiresAt);
    },
    async consume(hash, now) {
      const row = claim.get(now, hash, now) as { user_id: string; scopes: string } | undefined;
      return row ? { userId: row.user_id, scopes: JSON.parse(row.scopes) as string[] } : null;
    },
  };
}
