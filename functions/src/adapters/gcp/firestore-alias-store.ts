/**
 * AliasStore on Cloud Firestore. Layout: `teams/{team}/experiments/{key}/aliases/{tag}@{name}` (tags and names
 * never contain '@'), the AliasRecord as it is; members may read it like the rest of the experiment (firestore.rules),
 * nobody but the API writes. A set or delete reads the document and writes with a `lastUpdateTime` precondition
 * (`create()` when absent), retrying a lost race, like every other compare-and-set here (docs/architecture.md: the
 * emulator resolves contended `runTransaction`s only through a 2 s lock timeout). So of concurrent moves the last
 * write wins and each caller learns exactly the version it replaced.
 */
import { type DocumentReference, Firestore, type Timestamp } from '@google-cloud/firestore';
import { StudioError } from '../../contract/errors.ts';
import type { AliasRecord, AliasStore } from '../../core/alias-store.ts';

export interface FirestoreAliasStoreOptions {
  projectId: string;
  databaseId?: string;
  /** An existing client (tests, or shared with the metadata store); closing it is then the caller's. */
  firestore?: Firestore;
}

// gRPC status codes (google.rpc.Code).
const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;
const ABORTED = 10;
const TRANSIENT = new Set([1, 4, 8, ABORTED, 14]);
const LOST_RACE = new Set([ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED]);
const RACE_ATTEMPTS = 30;
const DELETE_BATCH = 400;

const codeOf = (err: unknown) => (err as { code?: unknown } | null)?.code;

function wrap(cause: unknown, what: string): StudioError {
  if (cause instanceof StudioError) return cause;
  const code = codeOf(cause);
  if (typeof code === 'number' && TRANSIENT.has(code)) {
    return new StudioError('E_UNAVAILABLE', `firestore alias ${what}: temporarily unavailable (code ${code})`, {
      cause,
    });
  }
  return new StudioError('E_INTERNAL', `firestore alias ${what} failed`, { cause });
}

/** Retries an attempt that lost a race (a racer created or changed the document between read and write). */
async function optimistic<T>(what: string, attempt: () => Promise<T>): Promise<T> {
  for (let n = 1; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (err instanceof StudioError || !LOST_RACE.has(codeOf(err) as number)) throw wrap(err, what);
      if (n >= RACE_ATTEMPTS) {
        throw new StudioError('E_UNAVAILABLE', `firestore alias ${what}: too much contention, try again`, {
          cause: err,
        });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * Math.min(500, 10 * 2 ** n)));
    }
  }
}

const validId = (id: string) => id.length > 0 && !id.includes('/') && id !== '.' && id !== '..' && !/^__.*__$/.test(id);

/** Import lazily: loads the Firestore SDK. */
export function createFirestoreAliasStore(opts: FirestoreAliasStoreOptions): AliasStore & { close(): Promise<void> } {
  const owned = opts.firestore === undefined;
  const db =
    opts.firestore ??
    new Firestore({
      projectId: opts.projectId,
      ...(opts.databaseId ? { databaseId: opts.databaseId } : {}),
      ignoreUndefinedProperties: true,
    });
  const coll = (team: string, experiment: string) =>
    db.collection('teams').doc(team).collection('experiments').doc(experiment).collection('aliases');
  const ref = (team: string, experiment: string, tag: string, name: string): DocumentReference | null =>
    validId(team) && validId(experiment) && validId(`${tag}@${name}`)
      ? coll(team, experiment).doc(`${tag}@${name}`)
      : null;
  const byTagThenName = (a: AliasRecord, b: AliasRecord) =>
    a.tag === b.tag ? (a.name < b.name ? -1 : 1) : a.tag < b.tag ? -1 : 1;

  return {
    setAlias: (rec) =>
      optimistic('set', async () => {
        const r = ref(rec.team, rec.experiment, rec.tag, rec.name);
        if (!r) throw new StudioError('E_BAD_REQUEST', `invalid alias ${rec.experiment}/${rec.tag}@${rec.name}`);
        const snap = await r.get();
        if (!snap.exists) {
          await r.create({ ...rec });
          return { previous: null };
        }
        await r.update({ ...rec }, { lastUpdateTime: snap.updateTime as Timestamp });
        return { previous: snap.get('version') as number };
      }),
    async getAlias(team, experiment, tag, name) {
      const r = ref(team, experiment, tag, name);
      if (!r) return null;
      try {
        const snap = await r.get();
        return snap.exists ? (snap.data() as AliasRecord) : null;
      } catch (err) {
        throw wrap(err, 'get');
      }
    },
    async listAliases(team, experiment, tag) {
      if (!validId(team) || !validId(experiment)) return [];
      try {
        const c = coll(team, experiment);
        const snap = await (tag === undefined ? c.get() : c.where('tag', '==', tag).get());
        return snap.docs.map((d) => d.data() as AliasRecord).sort(byTagThenName);
      } catch (err) {
        throw wrap(err, 'list');
      }
    },
    deleteAlias: (team, experiment, tag, name) =>
      optimistic('delete', async () => {
        const r = ref(team, experiment, tag, name);
        if (!r) return null;
        const snap = await r.get();
        if (!snap.exists) return null;
        await r.delete({ lastUpdateTime: snap.updateTime as Timestamp });
        return snap.data() as AliasRecord;
      }),
    async deleteExperimentAliases(team, experiment) {
      if (!validId(team) || !validId(experiment)) return 0;
      try {
        const docs = (await coll(team, experiment).select().get()).docs;
        for (let i = 0; i < docs.length; i += DELETE_BATCH) {
          const batch = db.batch();
          for (const d of docs.slice(i, i + DELETE_BATCH)) batch.delete(d.ref);
          await batch.commit();
        }
        return docs.length;
      } catch (err) {
        throw wrap(err, 'delete');
      }
    },
    close: async () => {
      if (owned) await db.terminate();
    },
  };
}
