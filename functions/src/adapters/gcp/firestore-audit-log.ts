/**
 * AuditLog on Cloud Firestore: `teams/{team}/audit/{id}`, one document per entry, written only with create() (an
 * existing id is never overwritten) and never updated or deleted by the code; firestore.rules deny every client
 * write and let team admins read. Ids sort by time (core/audit.ts), and the id is also a field so listings order
 * and page on it: newest first uses the automatic single-field index on `id`; filtering by action uses the
 * composite index (action ASC, id DESC) declared in firestore.indexes.json.
 */
import { StudioError } from '../../contract/errors.ts';
import type { AuditEntry } from '../../contract/model.ts';
import type { AuditLog } from '../../core/ports.ts';
import {
  type FirestoreOptions,
  firestoreClient,
  firestoreError,
  isAlreadyExists,
  teamCollection,
  validId,
} from './firestore-kit.ts';

/** Import lazily: loads the Firestore SDK. */
export function createFirestoreAuditLog(opts: FirestoreOptions): AuditLog & { close(): Promise<void> } {
  const { db, close } = firestoreClient(opts);
  const audit = (team: string) => teamCollection(db, team, 'audit');

  return {
    async append(entry) {
      if (!validId(entry.team) || !validId(entry.id)) {
        throw new StudioError('E_BAD_REQUEST', `invalid audit entry identifier ${entry.team}/${entry.id}`);
      }
      try {
        await audit(entry.team).doc(entry.id).create(entry);
      } catch (cause) {
        if (isAlreadyExists(cause)) {
          throw new StudioError('E_CONFLICT', `audit entry ${entry.id} already exists`, { cause });
        }
        throw firestoreError(cause, 'audit append');
      }
    },
    async list(team, q) {
      if (!validId(team)) return [];
      try {
        let query = audit(team).orderBy('id', 'desc');
        if (q.action) query = query.where('action', '==', q.action);
        if (q.before !== undefined) query = query.where('id', '<', q.before);
        const snap = await query.limit(q.limit).get();
        return snap.docs.map((d) => d.data() as AuditEntry);
      } catch (cause) {
        throw firestoreError(cause, 'audit list');
      }
    },
    close,
  };
}
