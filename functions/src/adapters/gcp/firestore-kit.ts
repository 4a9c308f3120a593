/**
 * The one Firestore helper of the GCP adapters (stores, job store, audit log): the client, error mapping to
 * StudioError codes, the optimistic compare-and-swap loop, document id rules and small batch helpers.
 *
 * Concurrency: optimistic compare-and-swap instead of runTransaction. A change reads without locks, then commits ONE
 * atomic batch (or write) whose preconditions (create = must not exist; update/delete = lastUpdateTime unchanged)
 * fail if a racer changed what was read; `optimistic` then re-reads and retries. This is as atomic and lost-update
 * free as a transaction, in production and on the emulator. Why not runTransaction: the emulator resolves two
 * read-then-write transactions on one document only by a fixed 2 s lock timeout, so 20 racing commits took 12 s with
 * the SDK's retries (1 s base backoff) and longer with fast retries; with preconditions they take well under 2 s.
 */
import {
  type CollectionReference,
  type DocumentReference,
  type DocumentSnapshot,
  Firestore,
  type Timestamp,
  type WriteBatch,
} from '@google-cloud/firestore';
import { StudioError } from '../../contract/errors.ts';

export interface FirestoreOptions {
  projectId: string;
  /** Named database; `(default)` when absent. */
  databaseId?: string;
  /** An existing client (tests, or shared by every adapter of a backend). The adapter then leaves closing it. */
  firestore?: Firestore;
}

// gRPC status codes (google.rpc.Code).
export const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;
const ABORTED = 10;
// "Try again later" rather than "this request is wrong".
const TRANSIENT = new Set([1, 4, 8, ABORTED, 14]); // CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE
// A write whose precondition lost a race (a create of what a racer just created, an update of what it changed):
// somebody changed what we read, so read again and retry.
const LOST_RACE = new Set([ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED]);
const RACE_ATTEMPTS = 30;
const RACE_BACKOFF_MS = 10;
const RACE_BACKOFF_CAP_MS = 500;

export const codeOf = (err: unknown) => (err as { code?: unknown } | null)?.code;
export const isAlreadyExists = (err: unknown) => codeOf(err) === ALREADY_EXISTS;

/** The given client, or a new one the caller owns (`owned`: close() terminates it). */
export function firestoreClient(opts: FirestoreOptions): { db: Firestore; close(): Promise<void> } {
  const owned = opts.firestore === undefined;
  const db =
    opts.firestore ??
    new Firestore({
      projectId: opts.projectId,
      ...(opts.databaseId ? { databaseId: opts.databaseId } : {}),
      ignoreUndefinedProperties: true,
    });
  let closed = false;
  return {
    db,
    close: async () => {
      if (!owned || closed) return;
      closed = true;
      await db.terminate();
    },
  };
}

/** Maps an SDK error: StudioErrors pass through, transient codes become E_UNAVAILABLE, the rest E_INTERNAL. */
export function firestoreError(cause: unknown, what: string): StudioError {
  if (cause instanceof StudioError) return cause;
  const code = codeOf(cause);
  if (typeof code === 'number' && TRANSIENT.has(code)) {
    return new StudioError('E_UNAVAILABLE', `firestore ${what}: temporarily unavailable (code ${code})`, { cause });
  }
  return new StudioError('E_INTERNAL', `firestore ${what} failed`, { cause });
}

/** Runs one Firestore operation with its errors mapped by firestoreError. */
export async function guard<T>(what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (cause) {
    throw firestoreError(cause, what);
  }
}

/**
 * Optimistic concurrency: `attempt` reads without locks and then commits one atomic batch whose preconditions fail
 * if a racer changed what it read; then it runs again after a short full-jitter backoff. StudioErrors thrown by
 * `attempt` are final; after RACE_ATTEMPTS lost races it gives up with E_UNAVAILABLE.
 */
export async function optimistic<T>(what: string, attempt: () => Promise<T>): Promise<T> {
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
export function validId(id: string): boolean {
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

/** For writes: an id that Firestore cannot store (or that would address another path) is a bad request. */
export function need(...ids: string[]): void {
  const bad = ids.find((id) => !validId(id));
  if (bad !== undefined) throw new StudioError('E_BAD_REQUEST', `invalid identifier "${bad}"`);
}

/** `teams/{team}`: the team record; every team-scoped collection (experiments, blobs, members, jobs, audit) hangs here. */
export const teamDoc = (db: Firestore, team: string): DocumentReference => db.collection('teams').doc(team);

/** `teams/{team}/{name}`: one team-scoped collection. */
export const teamCollection = (db: Firestore, team: string, name: string): CollectionReference =>
  teamDoc(db, team).collection(name);

/** An update that lands only if the document is unchanged since `snap` was read (else the batch fails: re-read). */
export const casUpdate = (batch: WriteBatch, snap: DocumentSnapshot, data: Record<string, unknown>) =>
  batch.update(snap.ref, data, { lastUpdateTime: snap.updateTime as Timestamp });

/** Splits `items` into runs of at most `n`. */
export function chunked<T>(items: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}
