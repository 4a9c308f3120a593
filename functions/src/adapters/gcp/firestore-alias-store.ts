/**
 * AliasStore on Cloud Firestore. Layout: `teams/{team}/experiments/{key}/aliases/{tag}@{name}` (tags and names
 * never contain '@'), the AliasRecord as it is; members may read it like the rest of the experiment (firestore.rules),
 * nobody but the API writes. A set or delete reads the document and writes with a `lastUpdateTime` precondition
 * (`create()` when absent), retrying a lost race, like every other compare-and-set here (docs/architecture.md: the
 * emulator resolves contended `runTransaction`s only through a 2 s lock timeout). So of concurrent moves the last
 * write wins and each caller learns exactly the version it replaced.
 */
import type { DocumentReference, Timestamp } from '@google-cloud/firestore';
import { StudioError } from '../../contract/errors.ts';
import type { AliasRecord, AliasStore } from '../../core/alias-store.ts';
import {
  chunked,
  type FirestoreOptions,
  firestoreClient,
  guard,
  optimistic,
  teamDoc,
  validId,
} from './firestore-kit.ts';

export type FirestoreAliasStoreOptions = FirestoreOptions;

const DELETE_BATCH = 400;

/** Import lazily: loads the Firestore SDK. */
export function createFirestoreAliasStore(opts: FirestoreAliasStoreOptions): AliasStore & { close(): Promise<void> } {
  const { db, close } = firestoreClient(opts);
  const coll = (team: string, experiment: string) =>
    teamDoc(db, team).collection('experiments').doc(experiment).collection('aliases');
  const ref = (team: string, experiment: string, tag: string, name: string): DocumentReference | null =>
    validId(team) && validId(experiment) && validId(`${tag}@${name}`)
      ? coll(team, experiment).doc(`${tag}@${name}`)
      : null;
  const byTagThenName = (a: AliasRecord, b: AliasRecord) =>
    a.tag === b.tag ? (a.name < b.name ? -1 : 1) : a.tag < b.tag ? -1 : 1;

  return {
    setAlias: (rec) =>
      guardedRace('alias set', async () => {
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
      return guard('alias get', async () => {
        const snap = await r.get();
        return snap.exists ? (snap.data() as AliasRecord) : null;
      });
    },
    async listAliases(team, experiment, tag) {
      if (!validId(team) || !validId(experiment)) return [];
      return guard('alias list', async () => {
        const c = coll(team, experiment);
        const snap = await (tag === undefined ? c.get() : c.where('tag', '==', tag).get());
        return snap.docs.map((d) => d.data() as AliasRecord).sort(byTagThenName);
      });
    },
    deleteAlias: (team, experiment, tag, name) =>
      guardedRace('alias delete', async () => {
        const r = ref(team, experiment, tag, name);
        if (!r) return null;
        const snap = await r.get();
        if (!snap.exists) return null;
        await r.delete({ lastUpdateTime: snap.updateTime as Timestamp });
        return snap.data() as AliasRecord;
      }),
    async deleteExperimentAliases(team, experiment) {
      if (!validId(team) || !validId(experiment)) return 0;
      return guard('alias delete', async () => {
        const docs = (await coll(team, experiment).select().get()).docs;
        for (const part of chunked(docs, DELETE_BATCH)) {
          const batch = db.batch();
          for (const d of part) batch.delete(d.ref);
          await batch.commit();
        }
        return docs.length;
      });
    },
    close,
  };
}

/** A read-then-preconditioned-write retried when it loses a race; other errors mapped like every Firestore call. */
const guardedRace = <T>(what: string, attempt: () => Promise<T>): Promise<T> =>
  guard(what, () => optimistic(what, attempt));
