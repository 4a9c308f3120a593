/**
 * ExperimentStore on Cloud Firestore, with the contract and error codes of the SQLite adapter.
 *
 *   teams/{team}/experiments/{key}                 ExperimentRecord
 *   teams/{team}/experiments/{key}/artifacts/{tag} ArtifactRecord + latestDigest (the commit's compare-and-append)
 *     .../artifacts/{tag}/versions/{000000001}     VersionRecord; ids zero-padded to 9 digits, lexical = numeric
 *
 * Queries: experiments (project ASC, createdAt DESC) and friends in firestore.indexes.json; by createdAt DESC alone
 * the automatic single-field index. Times are ISO-8601 UTC strings, which sort lexically in time order.
 */
import { type DocumentReference, FieldPath, type Firestore, type Timestamp } from '@google-cloud/firestore';
import { StudioError } from '../../contract/errors.ts';
import type { ArtifactRecord, ExperimentRecord, VersionRecord } from '../../contract/model.ts';
import { type ExperimentMatch, experimentMatches } from '../../core/model.ts';
import {
  type CommitVersionInput,
  type ExperimentListQuery,
  type ExperimentStore,
  versionFromCommit,
} from '../../core/ports.ts';
import { chunked, codeOf, guard, isAlreadyExists, need, optimistic, teamCollection, validId } from './firestore-kit.ts';

type ArtifactDoc = ArtifactRecord & { latestDigest: string };
type ExperimentPatch = Partial<Omit<ExperimentRecord, 'team' | 'key'>>;

const DELETE_BATCH = 400;
const versionId = (n: number) => String(n).padStart(9, '0');
const validVersion = (n: number) => Number.isSafeInteger(n) && n >= 1;

function toArtifact(d: ArtifactDoc): ArtifactRecord {
  const { latestDigest: _d, ...rec } = d;
  return rec;
}

function refs(db: Firestore) {
  const expRef = (t: string, key: string) => teamCollection(db, t, 'experiments').doc(key);
  const artRef = (t: string, exp: string, tag: string) => expRef(t, exp).collection('artifacts').doc(tag);
  const verRef = (t: string, exp: string, tag: string, v: number) =>
    artRef(t, exp, tag).collection('versions').doc(versionId(v));
  const read = async <T>(ref: DocumentReference): Promise<T | null> => {
    const snap = await ref.get();
    return snap.exists ? (snap.data() as T) : null;
  };
  return { expRef, artRef, verRef, read };
}
type Refs = ReturnType<typeof refs>;

/** The experiment's compare-and-set: read, check status and match, write under a lastUpdateTime precondition. */
function updateExperiment(
  r: Refs,
  t: string,
  key: string,
  patch: ExperimentPatch,
  fromStatuses?: ExperimentRecord['status'][],
  match?: ExperimentMatch,
) {
  if (!validId(t) || !validId(key)) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  const ref = r.expRef(t, key);
  return optimistic('updateExperiment', async () => {
    const snap = await ref.get();
    const cur = snap.exists ? (snap.data() as ExperimentRecord) : undefined;
    if (!cur) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
    if (fromStatuses && !fromStatuses.includes(cur.status)) {
      throw new StudioError('E_CONFLICT', `experiment ${key} is ${cur.status}`, { details: { status: cur.status } });
    }
    if (!experimentMatches(cur, match)) {
      throw new StudioError('E_CONFLICT', `experiment ${key} changed meanwhile (attempt ${cur.attempt ?? 1})`, {
        details: { status: cur.status },
      });
    }
    const defined = Object.fromEntries(Object.entries(patch).filter(([, v]) => v !== undefined));
    const next: ExperimentRecord = { ...cur, ...defined, team: t, key };
    // Every field is rewritten; the precondition makes the read-check-write one atomic step.
    await ref.update({ ...next }, { lastUpdateTime: snap.updateTime as Timestamp });
    return next;
  });
}

/**
 * The version commit's compare-and-append: one atomic batch moves the artifact on only if nobody else did since our
 * read (lastUpdateTime, or create for a new artifact), and creates the version document, which must not exist yet
 * (a number is never reused). A lost race re-reads and takes the next number.
 */
function commitVersion(db: Firestore, r: Refs, input: CommitVersionInput) {
  const { team: t, experiment, tag } = input;
  need(t, experiment, tag);
  const aRef = r.artRef(t, experiment, tag);
  return optimistic('commitVersion', async (): Promise<{ version: VersionRecord; created: boolean }> => {
    const snap = await aRef.get();
    const art = snap.exists ? (snap.data() as ArtifactDoc) : undefined;
    if (art) {
      if (art.mutable !== input.mutable) {
        throw new StudioError(
          'E_CONFLICT',
          `artifact ${experiment}/${tag} is ${art.mutable ? 'mutable' : 'immutable'}`,
        );
      }
      if (art.latestDigest === input.digest) {
        const latest = await r.read<VersionRecord>(r.verRef(t, experiment, tag, art.latestVersion));
        if (!latest) throw new StudioError('E_INTERNAL', `artifact ${experiment}/${tag} lost its latest version`);
        return { version: latest, created: false };
      }
      if (!input.mutable) {
        throw new StudioError('E_IMMUTABLE', `artifact ${experiment}/${tag} is immutable and already has a version`);
      }
    }
    const next = art ? art.latestVersion + 1 : 1;
    const version: VersionRecord = { ...versionFromCommit(input, next), team: t };
    const batch = db.batch();
    if (art) {
      const bump = { latestVersion: next, latestDigest: input.digest, updatedAt: input.createdAt };
      batch.update(aRef, bump, { lastUpdateTime: snap.updateTime as Timestamp });
    } else {
      const artifact: ArtifactDoc = {
        team: t,
        experiment,
        tag,
        mutable: input.mutable,
        latestVersion: next,
        latestDigest: input.digest,
        createdAt: input.createdAt,
        updatedAt: input.createdAt,
      };
      batch.create(aRef, artifact);
    }
    batch.create(r.verRef(t, experiment, tag, next), version);
    await batch.commit();
    return { version, created: true };
  });
}

/** Documents a batch of version deletes holds (Firestore allows 500 writes per batch). */
const VERSION_DELETE_BATCH = 400;
const NOT_FOUND = 5;

/**
 * Each delete is preconditioned on the document existing, so of racing callers exactly one deletes a version: a
 * batch whose every version still exists goes in one commit; a batch that fails (another caller took one) is redone
 * one document at a time, skipping those already gone.
 */
async function deleteVersions(db: Firestore, r: Refs, t: string, experiment: string, tag: string, versions: number[]) {
  if (![t, experiment, tag].every(validId)) return [];
  const art = await r.read<ArtifactDoc>(r.artRef(t, experiment, tag));
  if (!art) return [];
  if (versions.includes(art.latestVersion)) {
    throw new StudioError('E_CONFLICT', `${experiment}/${tag}@${art.latestVersion} is the latest version`);
  }
  // Only numbers below the latest we read: a higher one did not exist then, and a commit racing this call may have
  // made it since, as the new latest (which no precondition here would protect).
  const existing = [...new Set(versions)].filter((v) => validVersion(v) && v < art.latestVersion);
  const done: number[] = [];
  for (const part of chunked(existing, VERSION_DELETE_BATCH)) {
    const batch = db.batch();
    for (const v of part) batch.delete(r.verRef(t, experiment, tag, v), { exists: true });
    try {
      await batch.commit();
      done.push(...part);
      continue;
    } catch (err) {
      if (codeOf(err) !== NOT_FOUND) throw err;
    }
    for (const v of part) {
      try {
        await r.verRef(t, experiment, tag, v).delete({ exists: true });
        done.push(v);
      } catch (err) {
        if (codeOf(err) !== NOT_FOUND) throw err;
      }
    }
  }
  return done;
}

/**
 * Children first and the experiment last: an interrupted delete leaves it visible, and deleting again ends it. The
 * last delete is preconditioned on the document existing, so of racing callers exactly one deletes the experiment
 * (and reports it); the others get E_NOT_FOUND, as on SQLite.
 */
async function deleteExperiment(db: Firestore, r: Refs, t: string, key: string) {
  const ref = validId(t) && validId(key) ? r.expRef(t, key) : null;
  if (!ref || !(await ref.get()).exists) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  const arts = await ref.collection('artifacts').select().get();
  const docs: DocumentReference[] = [];
  for (const a of arts.docs) docs.push(...(await a.ref.collection('versions').select().get()).docs.map((d) => d.ref));
  const versions = docs.length;
  docs.push(...arts.docs.map((d) => d.ref));
  for (let i = 0; i < docs.length; i += DELETE_BATCH) {
    const batch = db.batch();
    for (const d of docs.slice(i, i + DELETE_BATCH)) batch.delete(d);
    await batch.commit();
  }
  try {
    await ref.delete({ exists: true });
  } catch (err) {
    if (codeOf(err) === NOT_FOUND) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
    throw err;
  }
  return { artifacts: arts.size, versions };
}

async function listExperiments(db: Firestore, t: string, q: ExperimentListQuery): Promise<ExperimentRecord[]> {
  if (!validId(t)) return [];
  const limit = Math.min(Math.max(q.limit ?? 1000, 1), 10_000);
  // Ties on createdAt fall back to the document id (= key) in the same direction, as in SQLite.
  let query = teamCollection(db, t, 'experiments').orderBy('createdAt', 'desc').orderBy(FieldPath.documentId(), 'desc');
  // Equality filters with this order use the composite indexes of firestore.indexes.json (merged when several).
  if (q.project) query = query.where('project', '==', q.project);
  if (q.status) query = query.where('status', '==', q.status);
  if (q.owner) query = query.where('owner', '==', q.owner);
  if (q.after) {
    if (!validId(q.after.key)) return [];
    query = query.startAfter(q.after.createdAt, q.after.key);
  }
  const snap = await query.limit(limit).get();
  return snap.docs.map((d) => d.data() as ExperimentRecord);
}

/** ExperimentStore on Firestore. Import lazily: it loads the Firestore SDK. */
export function createFirestoreExperimentStore(db: Firestore): ExperimentStore {
  const r = refs(db);
  return {
    createExperiment: (exp) =>
      guard('createExperiment', async () => {
        need(exp.team, exp.key);
        try {
          await r.expRef(exp.team, exp.key).create(exp);
        } catch (cause) {
          if (!isAlreadyExists(cause)) throw cause;
          throw new StudioError('E_EXPERIMENT_EXISTS', `experiment ${exp.key} already exists`, { cause });
        }
      }),
    getExperiment: (t, key) =>
      guard('getExperiment', async () =>
        validId(t) && validId(key) ? r.read<ExperimentRecord>(r.expRef(t, key)) : null,
      ),
    updateExperiment: (t, key, patch, fromStatuses, match) =>
      guard('updateExperiment', () => updateExperiment(r, t, key, patch, fromStatuses, match)),
    listExperiments: (t, q) => guard('listExperiments', () => listExperiments(db, t, q)),
    deleteExperiment: (t, key) => guard('deleteExperiment', () => deleteExperiment(db, r, t, key)),
    commitVersion: (input) => guard('commitVersion', () => commitVersion(db, r, input)),
    deleteVersions: (t, experiment, tag, versions) =>
      guard('deleteVersions', () => deleteVersions(db, r, t, experiment, tag, versions)),
    getVersion: (t, experiment, tag, version) =>
      guard('getVersion', async () => {
        if (![t, experiment, tag].every(validId)) return null;
        let v = version;
        if (v === undefined) {
          const art = await r.read<ArtifactDoc>(r.artRef(t, experiment, tag));
          if (!art) return null;
          v = art.latestVersion;
        }
        return validVersion(v) ? r.read<VersionRecord>(r.verRef(t, experiment, tag, v)) : null;
      }),
    listArtifacts: (t, experiment) =>
      guard('listArtifacts', async () => {
        if (!validId(t) || !validId(experiment)) return [];
        const snap = await r.expRef(t, experiment).collection('artifacts').get(); // document-id order = by tag
        return snap.docs.map((d) => toArtifact(d.data() as ArtifactDoc));
      }),
    listVersions: (t, experiment, tag) =>
      guard('listVersions', async () => {
        if (![t, experiment, tag].every(validId)) return [];
        const snap = await r.artRef(t, experiment, tag).collection('versions').get(); // padded ids: oldest first
        return snap.docs.map((d) => d.data() as VersionRecord);
      }),
  };
}
