/**
 * AuditLog on Cloud Firestore: `teams/{team}/audit/{id}`, one document per entry, written only with create() (an
 * existing id is never overwritten) and never updated or deleted by the code; firestore.rules deny every client
 * write and let team admins read. Ids sort by time (core/audit.ts), and the id is also a field so listings order
 * and page on it: newest first uses the automatic single-field index on `id`; filtering by action uses the
 * composite index (action ASC, id DESC) declared in firestore.indexes.json.
 */
import { Firestore } from '@google-cloud/firestore';
import { StudioError } from '../../contract/errors.ts';
import type { AuditEntry } from '../../contract/model.ts';
import type { AuditLog } from '../../core/ports.ts';

export interface FirestoreAuditLogOptions {
  projectId: string;
  databaseId?: string;
  /** An existing client (tests, or shared with the metadata store); closing it is then the caller's. */
  firestore?: Firestore;
}

const ALREADY_EXISTS = 6;
const TRANSIENT = new Set([1, 4, 8, 10, 14]);

function wrap(cause: unknown, what: string): StudioError {
  if (cause instanceof StudioError) return cause;
  const code = (cause as { code?: unknown } | null)?.code;
  if (typeof code === 'number' && TRANSIENT.has(code)) {
    return new StudioError('E_UNAVAILABLE', `firestore audit ${what}: temporarily unavailable (code ${code})`, {
      cause,
    });
  }
  return new StudioError('E_INTERNAL', `firestore audit ${what} failed`, { cause });
}

const validId = (id: string) => id.length > 0 && !id.includes('/') && id !== '.' && id !== '..' && !/^__.*__$/.test(id);

/** Import lazily: loads the Firestore SDK. */
export function createFirestoreAuditLog(opts: FirestoreAuditLogOptions): AuditLog & { close(): Promise<void> } {
  const owned = opts.firestore === undefined;
  const db =
    opts.firestore ??
    new Firestore({
      projectId: opts.projectId,
      ...(opts.databaseId ? { databaseId: opts.databaseId } : {}),
      ignoreUndefinedProperties: true,
    });
  const audit = (team: string) => db.collection('teams').doc(team).collection('audit');

  return {
    async append(entry) {
      if (!validId(entry.team) || !validId(entry.id)) {
        throw new StudioError('E_BAD_REQUEST', `invalid audit entry identifier ${entry.team}/${entry.id}`);
      }
      try {
        await audit(entry.team).doc(entry.id).create(entry);
      } catch (cause) {
        if ((cause as { code?: unknown }).code === ALREADY_EXISTS) {
          throw new StudioError('E_CONFLICT', `audit entry ${entry.id} already exists`, { cause });
        }
        throw wrap(cause, 'append');
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
        throw wrap(cause, 'list');
      }
    },
    async close() {
      if (owned) await db.terminate();
    },
  };
}
