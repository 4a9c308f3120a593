/**
 * TokenStore on Cloud Firestore: `tokens/{hash}` = TokenRecord; the id is the sha256 of the secret, so a lookup is
 * one get. By id, by userId and by binding.team use the automatic single-field indexes; listings sort in memory
 * (a user or team has few tokens) rather than needing a composite index on createdAt.
 */
import type { Firestore, Timestamp } from '@google-cloud/firestore';
import { StudioError } from '../../contract/errors.ts';
import type { TokenRecord } from '../../core/model.ts';
import type { TokenStore } from '../../core/ports.ts';
import { guard, isAlreadyExists, need, optimistic, validId } from './firestore-kit.ts';

/** Newest first, ties by id descending (as the SQLite adapter orders tokens). */
function newestFirst(all: TokenRecord[]): TokenRecord[] {
  return all.sort((a, b) =>
    a.createdAt === b.createdAt ? (a.id < b.id ? 1 : a.id > b.id ? -1 : 0) : a.createdAt < b.createdAt ? 1 : -1,
  );
}

/** TokenStore on Firestore. Import lazily: it loads the Firestore SDK. */
export function createFirestoreTokenStore(db: Firestore): TokenStore {
  const tokens = () => db.collection('tokens');
  const byField = async (field: string, value: string) =>
    newestFirst((await tokens().where(field, '==', value).get()).docs.map((d) => d.data() as TokenRecord));
  return {
    putToken: (token) =>
      guard('putToken', async () => {
        need(token.hash);
        try {
          await tokens().doc(token.hash).create(token);
        } catch (cause) {
          if (!isAlreadyExists(cause)) throw cause;
          throw new StudioError('E_CONFLICT', `a token with this hash already exists (${token.id})`, { cause });
        }
      }),
    getTokenByHash: (hash) =>
      guard('getTokenByHash', async () => {
        if (!validId(hash)) return null;
        const snap = await tokens().doc(hash).get();
        return snap.exists ? (snap.data() as TokenRecord) : null;
      }),
    getToken: (id) =>
      guard('getToken', async () => {
        const snap = await tokens().where('id', '==', id).limit(1).get();
        const d = snap.docs[0];
        return d ? (d.data() as TokenRecord) : null;
      }),
    listTokens: (userId) => guard('listTokens', () => byField('userId', userId)),
    listTeamTokens: (t) => guard('listTeamTokens', () => byField('binding.team', t)),
    revokeToken: (id, at) =>
      guard('revokeToken', async () => {
        const snap = await tokens().where('id', '==', id).get();
        // Keeps the first revocation time, like COALESCE(revoked_at, ?) in SQLite; unknown ids are a no-op.
        for (const found of snap.docs) {
          await optimistic('revokeToken', async () => {
            const d = await found.ref.get();
            if (!d.exists || d.get('revokedAt') != null) return;
            await d.ref.update({ revokedAt: at }, { lastUpdateTime: d.updateTime as Timestamp });
          });
        }
      }),
  };
}
