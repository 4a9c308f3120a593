/**
 * JobStore on Cloud Firestore (native mode), with the contract and error codes of the SQLite adapter.
 *
 * Layout: `teams/{team}/jobs/{id}` holds the JobRecord as it is (id = experiment key; keys may contain '.', which a
 * document id may; ids Firestore cannot store are refused on create and are "not found" elsewhere, as in
 * firestore-metadata-store.ts). Never client-readable or writable: firestore.rules denies everything not listed.
 *
 * Compare-and-set: like the experiments in firestore-metadata-store.ts, updateJob reads the document, checks the
 * status/attempt precondition (E_CONFLICT), then writes with a `lastUpdateTime` precondition; a racer that changed the
 * document in between makes the write fail, and the change is re-read and retried, so it then finds the new status
 * and answers E_CONFLICT. Of N concurrent leases of one job exactly one succeeds.
 *
 * Queries and their composite indexes (firestore.indexes.json and terraform/modules/studio-lite/firestore.tf):
 *   listQueued  queue == q, status == 'queued', order by queuedAt ASC   (queue, status, queuedAt ASC)
 *   listJobs    [queue == q] [status in [...]] order by queuedAt DESC   (queue, queuedAt DESC), (status, queuedAt DESC),
 *                                                                       (queue, status, queuedAt DESC)
 * listJobs without filters uses the automatic single-field index on queuedAt. Ties on queuedAt fall back to the
 * document id in the query's direction, as in SQLite (`ORDER BY queued_at, id`).
 */
import { type DocumentReference, Firestore, type Query, type Timestamp } from '@google-cloud/firestore';
import { StudioError } from '../../contract/errors.ts';
import { type JobRecord, jobMatches } from '../../contract/job-model.ts';
import type { JobStore } from '../../core/ports.ts';

export interface FirestoreJobStoreOptions {
  projectId: string;
  /** Named database; `(default)` when absent. */
  databaseId?: string;
  /** An existing client (tests, or shared with the metadata store). The store then leaves closing it to the caller. */
  firestore?: Firestore;
}

// gRPC status codes (google.rpc.Code).
const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;
const ABORTED = 10;
const TRANSIENT = new Set([1, 4, 8, ABORTED, 14]); // CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE
const LOST_RACE = new Set([FAILED_PRECONDITION, ABORTED]);
const RACE_ATTEMPTS = 30;
const RACE_BACKOFF_MS = 10;
const RACE_BACKOFF_CAP_MS = 500;
/** Firestore's `in` filter takes at most 30 values; a job has 7 statuses. */
const MAX_IN = 30;

const codeOf = (err: unknown) => (err as { code?: unknown } | null)?.code;

async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    if (cause instanceof StudioError) throw cause;
    const code = codeOf(cause);
    if (typeof code === 'number' && TRANSIENT.has(code)) {
      throw new StudioError('E_UNAVAILABLE', `firestore ${what}: temporarily unavailable (code ${code})`, { cause });
    }
    throw new StudioError('E_INTERNAL', `firestore ${what} failed`, { cause });
  }
}

/** Read, check, write with a lastUpdateTime precondition; a lost race re-reads after a short full-jitter backoff. */
async function optimistic<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof StudioError || !LOST_RACE.has(codeOf(err) as number)) throw err;
      if (n >= RACE_ATTEMPTS) {
        throw new StudioError('E_UNAVAILABLE', `firestore ${what}: too much contention, try again`, { cause: err });
      }
      const cap = Math.min(RACE_BACKOFF_CAP_MS, RACE_BACKOFF_MS * 2 ** n);
      await new Promise((resolve) => setTimeout(resolve, Math.random() * cap));
    }
  }
}

/** Firestore document id rules: non-empty, no '/', not '.' or '..', not __reserved__, at most 1500 bytes. */
function validId(id: string): boolean {
  return (
    typeof id === 'string' &&
    id.length > 0 &&
    !id.includes('/') &&
    id !== '.' &&
    id !== '..' &&
    !/^__.*__$/.test(id) &&
    Buffer.byteLength(id) <= 1500
  );
}

/** JobStore on Firestore. Import this module lazily: it loads the Firestore SDK. */
export function createFirestoreJobStore(opts: FirestoreJobStoreOptions): JobStore & { close(): Promise<void> } {
  const owned = opts.firestore === undefined;
  const db =
    opts.firestore ??
    new Firestore({
      projectId: opts.projectId,
      ...(opts.databaseId ? { databaseId: opts.databaseId } : {}),
      ignoreUndefinedProperties: true,
    });
  const jobs = (team: string) => db.collection('teams').doc(team).collection('jobs');
  const jobRef = (team: string, id: string): DocumentReference => jobs(team).doc(id);
  const records = (q: Query) => q.get().then((s) => s.docs.map((d) => d.data() as JobRecord));

  return {
    createJob: (job) =>
      guard('createJob', async () => {
        if (!validId(job.team) || !validId(job.id)) {
          throw new StudioError('E_BAD_REQUEST', `invalid job identifier "${job.team}/${job.id}"`);
        }
        try {
          await jobRef(job.team, job.id).create(job);
        } catch (cause) {
          if (codeOf(cause) !== ALREADY_EXISTS) throw cause;
          throw new StudioError('E_CONFLICT', `job ${job.id} already exists`, { cause });
        }
      }),

    getJob: (team, id) =>
      guard('getJob', async () => {
        if (!validId(team) || !validId(id)) return null;
        const snap = await jobRef(team, id).get();
        return snap.exists ? (snap.data() as JobRecord) : null;
      }),

    updateJob: (team, id, patch, expect) =>
      guard('updateJob', async () => {
        if (!validId(team) || !validId(id)) throw new StudioError('E_NOT_FOUND', `job ${id} not found`);
        const ref = jobRef(team, id);
        return optimistic('updateJob', async () => {
          const snap = await ref.get();
          const cur = snap.exists ? (snap.data() as JobRecord) : undefined;
          if (!cur) throw new StudioError('E_NOT_FOUND', `job ${id} not found`);
          if (!jobMatches(cur, expect)) {
            throw new StudioError('E_CONFLICT', `job ${id} is ${cur.status} (attempt ${cur.attempt})`, {
              details: { status: cur.status, attempt: cur.attempt },
            });
          }
          const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
          const next: JobRecord = { ...cur, ...defined, team, id };
          // Every top-level field is rewritten whole (maps and arrays replaced, not merged); the precondition makes
          // the read-check-write one atomic step.
          await ref.update({ ...next }, { lastUpdateTime: snap.updateTime as Timestamp });
          return next;
        });
      }),

    deleteJob: (team, id, expect) =>
      guard('deleteJob', async () => {
        if (!validId(team) || !validId(id)) return;
        const ref = jobRef(team, id);
        await optimistic('deleteJob', async () => {
          const snap = await ref.get();
          if (!snap.exists) return;
          const cur = snap.data() as JobRecord;
          if (!expect.status.includes(cur.status)) {
            throw new StudioError('E_CONFLICT', `job ${id} is ${cur.status}`, { details: { status: cur.status } });
          }
          // The precondition makes check and delete one step: a job that changed meanwhile is looked at again.
          await ref.delete({ lastUpdateTime: snap.updateTime as Timestamp });
        });
      }),

    listQueued: (team, queue, limit) =>
      guard('listQueued', async () => {
        if (!validId(team)) return [];
        return records(
          jobs(team)
            .where('queue', '==', queue)
            .where('status', '==', 'queued')
            .orderBy('queuedAt')
            .limit(Math.max(1, Math.min(limit, 1000))),
        );
      }),

    listJobs: (team, query) =>
      guard('listJobs', async () => {
        if (!validId(team)) return [];
        const limit = Math.max(1, Math.min(query.limit ?? 1000, 10_000));
        const statuses = query.status ? [...new Set(query.status)] : undefined;
        if (statuses && statuses.length === 0) return [];
        let q: Query = jobs(team);
        if (query.queue) q = q.where('queue', '==', query.queue);
        if (statuses && statuses.length > MAX_IN) throw new StudioError('E_BAD_REQUEST', 'too many statuses');
        if (statuses)
          q = statuses.length === 1 ? q.where('status', '==', statuses[0]) : q.where('status', 'in', statuses);
        return records(q.orderBy('queuedAt', 'desc').limit(limit));
      }),

    close: async () => {
      if (owned) await db.terminate();
    },
  };
}
