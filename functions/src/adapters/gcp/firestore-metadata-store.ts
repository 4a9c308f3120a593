/**
 * MetadataStore on Cloud Firestore (native mode), with the contract and error codes of the SQLite adapter.
 *
 * Concurrency: optimistic compare-and-swap instead of runTransaction. Each change reads without locks, then commits
 * ONE atomic batch whose preconditions (create = must not exist; update = lastUpdateTime unchanged) fail if a racer
 * changed what was read; the change then re-reads and retries (see optimistic()). This is as atomic and lost-update
 * free as a transaction, in production and on the emulator. Why not runTransaction: the emulator resolves two
 * read-then-write transactions on one document only by a fixed 2 s lock timeout, so 20 racing commits took 12 s with
 * the SDK's retries (1 s base backoff) and longer with fast retries; with preconditions they take well under 2 s.
 *
 * Data model (document ids are the natural keys, validated so that no id can address another path):
 *   teams/{team}/experiments/{key}                 ExperimentRecord
 *   teams/{team}/experiments/{key}/artifacts/{tag} ArtifactRecord + latestDigest (the commit's compare-and-append)
 *     .../artifacts/{tag}/versions/{000000001}     VersionRecord; ids zero-padded to 9 digits, lexical = numeric
 *   teams/{team}/blobs/{sha256}                    { sha256, size, verified, createdAt, condemnedAt?, deleting? }
 *   teams/{team}                                   TeamRecord (createTeam; older teams may have members only)
 *   teams/{team}/members/{userId}                  { team, userId, role } (firestore.rules reads it: isMember)
 *   teams/{team}/state/members                     { n }: bumped by every membership change (see setMembership)
 *   users/{id}                                     UserRecord
 *   users/{id}/teams/{team}                        { team, role } mirror of members, written in the same batch
 *   tokens/{hash}                                  TokenRecord; id = sha256 of the secret, so a lookup is one get
 * Times are ISO-8601 UTC strings (Date#toISOString), which sort lexically in time order. Queries and their
 * composite indexes: experiments (project ASC, createdAt DESC) in firestore.indexes.json; experiments by createdAt
 * DESC and tokens by id or by userId use the automatic single-field indexes (listTokens sorts in memory rather than
 * ordering by createdAt, which would need a composite index; a user has few tokens); listBlobs orders one team's
 * blobs by document id (= sha256), which needs no index.
 */
import {
  type DocumentReference,
  type DocumentSnapshot,
  FieldPath,
  FieldValue,
  Firestore,
  type Timestamp,
  type WriteBatch,
} from '@google-cloud/firestore';
import { StudioError } from '../../contract/errors.ts';
import type { ArtifactRecord, ExperimentRecord, Role, TeamRecord, VersionRecord } from '../../contract/model.ts';
import {
  type BlobRecord,
  experimentMatches,
  type StoredBlobRecord,
  type TeamMember,
  type TokenRecord,
  type UserRecord,
} from '../../core/model.ts';
import { type MetadataStore, versionFromCommit } from '../../core/ports.ts';

export interface FirestoreMetadataOptions {
  projectId: string;
  /** Named database; `(default)` when absent. */
  databaseId?: string;
  /** An existing client (tests). The store then leaves closing it to the caller. */
  firestore?: Firestore;
}

type ArtifactDoc = ArtifactRecord & { latestDigest: string };
/** Older documents lack condemnedAt and deleting (= not condemned, not deleting). */
type BlobDoc = {
  sha256: string;
  size: number;
  verified: boolean;
  createdAt: string;
  condemnedAt?: string;
  deleting?: boolean;
};

// gRPC status codes (google.rpc.Code).
const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;
const ABORTED = 10;
// "Try again later" rather than "this request is wrong".
const TRANSIENT = new Set([1, 4, 8, ABORTED, 14]); // CANCELLED, DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED, UNAVAILABLE
// A write whose precondition lost a race: somebody changed what we read, so read again and retry.
const LOST_RACE = new Set([ALREADY_EXISTS, FAILED_PRECONDITION, ABORTED]);
const RACE_ATTEMPTS = 30;
const RACE_BACKOFF_MS = 10;
const RACE_BACKOFF_CAP_MS = 500;
const GET_ALL_CHUNK = 300;
const BLOB_BATCH = 250;
const DELETE_BATCH = 400;

const codeOf = (err: unknown) => (err as { code?: unknown } | null)?.code;

/** Runs one Firestore operation; StudioErrors pass through, SDK errors become E_UNAVAILABLE or E_INTERNAL. */
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

const isAlreadyExists = (err: unknown) => codeOf(err) === ALREADY_EXISTS;

/**
 * Optimistic concurrency: `attempt` reads without locks and then commits one atomic batch whose preconditions
 * (create = must not exist, update = lastUpdateTime unchanged) fail if a racer changed what it read; then it runs
 * again after a short full-jitter backoff. StudioErrors thrown by `attempt` are final.
 */
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

/** For writes: an id that Firestore cannot store (or that would address another path) is a bad request. */
function need(...ids: string[]): void {
  const bad = ids.find((id) => !validId(id));
  if (bad !== undefined) throw new StudioError('E_BAD_REQUEST', `invalid identifier "${bad}"`);
}

const versionId = (n: number) => String(n).padStart(9, '0');
const validVersion = (n: number) => Number.isSafeInteger(n) && n >= 1;

function toArtifact(d: ArtifactDoc): ArtifactRecord {
  const { latestDigest: _d, ...rec } = d;
  return rec;
}

function toBlob(id: string, d: BlobDoc): BlobRecord {
  const rec: BlobRecord = { sha256: id, size: d.size, verified: d.verified === true };
  if (typeof d.condemnedAt === 'string') rec.condemnedAt = d.condemnedAt;
  return rec;
}

function toStoredBlob(id: string, d: BlobDoc): StoredBlobRecord {
  return { ...toBlob(id, d), createdAt: d.createdAt, deleting: d.deleting === true };
}

/** Splits `items` into runs of at most `n`. */
function chunked<T>(items: T[], n: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += n) out.push(items.slice(i, i + n));
  return out;
}

/** An update that lands only if the document is unchanged since `snap` was read (else the batch fails: re-read). */
const casUpdate = (batch: WriteBatch, snap: DocumentSnapshot, data: Record<string, unknown>) =>
  batch.update(snap.ref, data, { lastUpdateTime: snap.updateTime as Timestamp });

/** MetadataStore on Firestore. Import this module lazily: it loads the Firestore SDK. */
export function createFirestoreMetadataStore(
  opts: FirestoreMetadataOptions,
): MetadataStore & { close(): Promise<void> } {
  const owned = opts.firestore === undefined;
  const db =
    opts.firestore ??
    new Firestore({
      projectId: opts.projectId,
      ...(opts.databaseId ? { databaseId: opts.databaseId } : {}),
      ignoreUndefinedProperties: true,
    });

  const team = (t: string) => db.collection('teams').doc(t);
  const expRef = (t: string, key: string) => team(t).collection('experiments').doc(key);
  const artRef = (t: string, exp: string, tag: string) => expRef(t, exp).collection('artifacts').doc(tag);
  const verRef = (t: string, exp: string, tag: string, v: number) =>
    artRef(t, exp, tag).collection('versions').doc(versionId(v));
  const blobRef = (t: string, sha: string) => team(t).collection('blobs').doc(sha);
  const read = async <T>(ref: DocumentReference): Promise<T | null> => {
    const snap = await ref.get();
    return snap.exists ? (snap.data() as T) : null;
  };

  /**
   * Records one chunk of blobs in one atomic batch: creates absent ones, upgrades verified (monotone), clears
   * condemnedAt. Every write is conditional on what was read (create, or update with lastUpdateTime), so a racing
   * beginBlobDelete and this rescue cannot both win. Returns the deleting hashes instead of writing if there are any.
   */
  const putBlobChunk = (t: string, chunk: BlobRecord[], now: string) =>
    optimistic('putBlobs', async (): Promise<string[]> => {
      const snaps = await db.getAll(...chunk.map((b) => blobRef(t, b.sha256)));
      const deleting = snaps.filter((snap) => snap.exists && snap.get('deleting') === true).map((snap) => snap.id);
      if (deleting.length > 0) return deleting;
      const batch = db.batch();
      let writes = 0;
      snaps.forEach((snap, i) => {
        const b = chunk[i] as BlobRecord;
        if (!snap.exists) {
          const doc: BlobDoc = { sha256: b.sha256, size: b.size, verified: b.verified, createdAt: now };
          batch.create(snap.ref, doc);
          writes++;
          return;
        }
        const patch: Record<string, unknown> = {};
        if (b.verified && snap.get('verified') !== true) patch.verified = true;
        if (snap.get('condemnedAt') != null) patch.condemnedAt = FieldValue.delete();
        if (Object.keys(patch).length > 0) {
          casUpdate(batch, snap, patch);
          writes++;
        }
      });
      if (writes > 0) await batch.commit();
      return [];
    });

  /** Condemns one chunk (one atomic, conditional batch); returns the hashes it created or changed. */
  const condemnChunk = (t: string, chunk: { sha256: string; size: number }[], at: string, now: string) =>
    optimistic('condemnBlobs', async (): Promise<string[]> => {
      const snaps = await db.getAll(...chunk.map((b) => blobRef(t, b.sha256)));
      const batch = db.batch();
      const changed: string[] = [];
      snaps.forEach((snap, i) => {
        const b = chunk[i] as { sha256: string; size: number };
        if (!snap.exists) {
          const doc: BlobDoc = { sha256: b.sha256, size: b.size, verified: false, createdAt: now, condemnedAt: at };
          batch.create(snap.ref, doc);
          changed.push(b.sha256);
        } else if (snap.get('deleting') !== true && snap.get('condemnedAt') == null) {
          casUpdate(batch, snap, { condemnedAt: at });
          changed.push(b.sha256);
        }
      });
      if (changed.length > 0) await batch.commit();
      return changed;
    });

  /** Absolves one chunk (one atomic, conditional batch). */
  const absolveChunk = (t: string, chunk: string[]) =>
    optimistic('absolveBlobs', async () => {
      const snaps = await db.getAll(...chunk.map((sha) => blobRef(t, sha)));
      const batch = db.batch();
      let writes = 0;
      for (const snap of snaps) {
        if (snap.exists && snap.get('deleting') !== true && snap.get('condemnedAt') != null) {
          casUpdate(batch, snap, { condemnedAt: FieldValue.delete() });
          writes++;
        }
      }
      if (writes > 0) await batch.commit();
    });

  return {
    createExperiment: (exp) =>
      guard('createExperiment', async () => {
        need(exp.team, exp.key);
        try {
          await expRef(exp.team, exp.key).create(exp);
        } catch (cause) {
          if (!isAlreadyExists(cause)) throw cause;
          throw new StudioError('E_EXPERIMENT_EXISTS', `experiment ${exp.key} already exists`, { cause });
        }
      }),

    getExperiment: (t, key) =>
      guard('getExperiment', async () => (validId(t) && validId(key) ? read<ExperimentRecord>(expRef(t, key)) : null)),

    updateExperiment: (t, key, patch, fromStatuses, match) =>
      guard('updateExperiment', async () => {
        if (!validId(t) || !validId(key)) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
        const ref = expRef(t, key);
        return optimistic('updateExperiment', async () => {
          const snap = await ref.get();
          const cur = snap.exists ? (snap.data() as ExperimentRecord) : undefined;
          if (!cur) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
          if (fromStatuses && !fromStatuses.includes(cur.status)) {
            throw new StudioError('E_CONFLICT', `experiment ${key} is ${cur.status}`, {
              details: { status: cur.status },
            });
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
      }),

    listExperiments: (t, q) =>
      guard('listExperiments', async () => {
        if (!validId(t)) return [];
        const limit = Math.min(Math.max(q.limit ?? 1000, 1), 10_000);
        // Ties on createdAt fall back to the document id (= key) in the same direction, as in SQLite.
        let query = team(t)
          .collection('experiments')
          .orderBy('createdAt', 'desc')
          .orderBy(FieldPath.documentId(), 'desc');
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
      }),

    commitVersion: (input) =>
      guard('commitVersion', async () => {
        const { team: t, experiment, tag } = input;
        need(t, experiment, tag);
        const aRef = artRef(t, experiment, tag);
        return optimistic('commitVersion', async () => {
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
              const latest = await read<VersionRecord>(verRef(t, experiment, tag, art.latestVersion));
              if (!latest) throw new StudioError('E_INTERNAL', `artifact ${experiment}/${tag} lost its latest version`);
              return { version: latest, created: false };
            }
            if (!input.mutable) {
              throw new StudioError(
                'E_IMMUTABLE',
                `artifact ${experiment}/${tag} is immutable and already has a version`,
              );
            }
          }
          const next = art ? art.latestVersion + 1 : 1;
          const version: VersionRecord = { ...versionFromCommit(input, next), team: t };
          const artifact: ArtifactDoc = {
            team: t,
            experiment,
            tag,
            mutable: input.mutable,
            latestVersion: next,
            latestDigest: input.digest,
            createdAt: art?.createdAt ?? input.createdAt,
            updatedAt: input.createdAt,
          };
          // One atomic batch: the artifact moves on only if nobody else did since our read (lastUpdateTime, or
          // create for a new artifact), and the version document must not exist yet (a number is never reused).
          const batch = db.batch();
          if (art) {
            batch.update(
              aRef,
              { latestVersion: next, latestDigest: input.digest, updatedAt: input.createdAt },
              { lastUpdateTime: snap.updateTime as Timestamp },
            );
          } else batch.create(aRef, artifact);
          batch.create(verRef(t, experiment, tag, next), version);
          await batch.commit();
          return { version, created: true };
        });
      }),

    getVersion: (t, experiment, tag, version) =>
      guard('getVersion', async () => {
        if (![t, experiment, tag].every(validId)) return null;
        let v = version;
        if (v === undefined) {
          const art = await read<ArtifactDoc>(artRef(t, experiment, tag));
          if (!art) return null;
          v = art.latestVersion;
        }
        return validVersion(v) ? read<VersionRecord>(verRef(t, experiment, tag, v)) : null;
      }),

    listArtifacts: (t, experiment) =>
      guard('listArtifacts', async () => {
        if (!validId(t) || !validId(experiment)) return [];
        const snap = await expRef(t, experiment).collection('artifacts').get(); // document-id order = by tag
        return snap.docs.map((d) => toArtifact(d.data() as ArtifactDoc));
      }),

    listVersions: (t, experiment, tag) =>
      guard('listVersions', async () => {
        if (![t, experiment, tag].every(validId)) return [];
        const snap = await artRef(t, experiment, tag).collection('versions').get(); // padded ids: oldest first
        return snap.docs.map((d) => d.data() as VersionRecord);
      }),

    findBlobs: (t, sha256s) =>
      guard('findBlobs', async () => {
        const found = new Map<string, BlobRecord>();
        if (!validId(t)) return found;
        const wanted = [...new Set(sha256s)].filter(validId);
        const chunks: string[][] = [];
        for (let i = 0; i < wanted.length; i += GET_ALL_CHUNK) chunks.push(wanted.slice(i, i + GET_ALL_CHUNK));
        const results = await Promise.all(chunks.map((c) => db.getAll(...c.map((sha) => blobRef(t, sha)))));
        for (const snap of results.flat()) {
          if (!snap.exists) continue;
          const d = snap.data() as BlobDoc;
          if (d.deleting === true) continue; // a GC run is deleting it: counts as absent
          found.set(snap.id, toBlob(snap.id, d));
        }
        return found;
      }),

    putBlobs: (t, blobs) =>
      guard('putBlobs', async () => {
        need(t, ...blobs.map((b) => b.sha256));
        // One entry per hash (a repeated hash counts as verified if any copy is); each chunk is one atomic batch.
        // Chunks are independent: a blob record stands alone and re-recording is idempotent. A chunk holding a
        // deleting record writes nothing; other chunks may have been written when the E_CONFLICT is thrown.
        const merged = new Map<string, BlobRecord>();
        for (const b of blobs) {
          const prev = merged.get(b.sha256);
          merged.set(b.sha256, {
            sha256: b.sha256,
            size: b.size,
            verified: b.verified || prev?.verified === true,
          });
        }
        const now = new Date().toISOString();
        const results = await Promise.all(
          chunked([...merged.values()], BLOB_BATCH).map((c) => putBlobChunk(t, c, now)),
        );
        const deleting = results.flat();
        if (deleting.length > 0) {
          throw new StudioError('E_CONFLICT', `${deleting.length} blob(s) are being deleted by garbage collection`, {
            details: { deleting },
          });
        }
      }),

    listBlobs: (t, q) =>
      guard('listBlobs', async () => {
        if (!validId(t)) return [];
        const limit = Math.max(Math.trunc(q.limit) || 1, 1);
        let query = team(t).collection('blobs').orderBy(FieldPath.documentId());
        // Every document id is a non-empty string, so an empty `after` is the start.
        if (q.after !== undefined && q.after !== '') {
          need(q.after);
          query = query.startAfter(q.after);
        }
        const snap = await query.limit(limit).get();
        return snap.docs.map((d) => toStoredBlob(d.id, d.data() as BlobDoc));
      }),

    condemnBlobs: (t, blobs, at) =>
      guard('condemnBlobs', async () => {
        need(t, ...blobs.map((b) => b.sha256));
        const unique = new Map<string, { sha256: string; size: number }>();
        for (const b of blobs) if (!unique.has(b.sha256)) unique.set(b.sha256, { sha256: b.sha256, size: b.size });
        const now = new Date().toISOString();
        const chunks = chunked([...unique.values()], BLOB_BATCH);
        return (await Promise.all(chunks.map((c) => condemnChunk(t, c, at, now)))).flat();
      }),

    absolveBlobs: (t, sha256s) =>
      guard('absolveBlobs', async () => {
        if (!validId(t)) return;
        const wanted = [...new Set(sha256s)].filter(validId); // an id Firestore cannot store has no record
        await Promise.all(chunked(wanted, BLOB_BATCH).map((c) => absolveChunk(t, c)));
      }),

    beginBlobDelete: (t, sha256, condemnedAt) =>
      guard('beginBlobDelete', async () => {
        if (!validId(t) || !validId(sha256)) return false;
        const ref = blobRef(t, sha256);
        return optimistic('beginBlobDelete', async () => {
          const snap = await ref.get();
          if (!snap.exists) return false;
          if (snap.get('deleting') === true) return true;
          if (snap.get('condemnedAt') !== condemnedAt) return false;
          // Lands only if no putBlobs (which clears condemnedAt) or absolve got in since the read.
          await ref.update({ deleting: true }, { lastUpdateTime: snap.updateTime as Timestamp });
          return true;
        });
      }),

    finishBlobDelete: (t, sha256) =>
      guard('finishBlobDelete', async () => {
        if (!validId(t) || !validId(sha256)) return;
        const ref = blobRef(t, sha256);
        await optimistic('finishBlobDelete', async () => {
          const snap = await ref.get();
          if (!snap.exists || snap.get('deleting') !== true) return;
          await ref.delete({ lastUpdateTime: snap.updateTime as Timestamp });
        });
      }),

    putUser: (user) =>
      guard('putUser', async () => {
        need(user.id);
        const ref = db.collection('users').doc(user.id);
        // Like the SQLite upsert: a known user keeps its createdAt and only changes its name (last writer wins).
        const email = user.email ? user.email.toLowerCase() : null;
        if (email) {
          const other = await db.collection('users').where('email', '==', email).limit(2).get();
          if (other.docs.some((d) => d.id !== user.id)) {
            throw new StudioError('E_CONFLICT', `another user already has the email ${email}`);
          }
        }
        try {
          await ref.create({ id: user.id, name: user.name, createdAt: user.createdAt, email });
        } catch (err) {
          if (!isAlreadyExists(err)) throw err;
          await ref.update(email ? { name: user.name, email } : { name: user.name });
        }
      }),

    findUserByEmail: (email) =>
      guard('findUserByEmail', async () => {
        const snap = await db.collection('users').where('email', '==', email.toLowerCase()).limit(1).get();
        const u = snap.docs[0]?.data() as UserRecord | undefined;
        return u ? { id: u.id, name: u.name, createdAt: u.createdAt, email: u.email ?? null } : null;
      }),

    listUsers: () =>
      guard('listUsers', async () => {
        const snap = await db.collection('users').orderBy('id').get();
        return snap.docs.map((d) => {
          const u = d.data() as UserRecord;
          return { id: u.id, name: u.name, createdAt: u.createdAt, email: u.email ?? null };
        });
      }),

    getUser: (id) =>
      guard('getUser', async () => {
        if (!validId(id)) return null;
        const u = await read<UserRecord>(db.collection('users').doc(id));
        return u ? { id: u.id, name: u.name, createdAt: u.createdAt, email: u.email ?? null } : null;
      }),

    putToken: (token) =>
      guard('putToken', async () => {
        need(token.hash);
        try {
          await db.collection('tokens').doc(token.hash).create(token);
        } catch (cause) {
          if (!isAlreadyExists(cause)) throw cause;
          throw new StudioError('E_CONFLICT', `a token with this hash already exists (${token.id})`, { cause });
        }
      }),

    getTokenByHash: (hash) =>
      guard('getTokenByHash', async () =>
        validId(hash) ? read<TokenRecord>(db.collection('tokens').doc(hash)) : null,
      ),

    getToken: (id) =>
      guard('getToken', async () => {
        const snap = await db.collection('tokens').where('id', '==', id).limit(1).get();
        const d = snap.docs[0];
        return d ? (d.data() as TokenRecord) : null;
      }),

    listTokens: (userId) =>
      guard('listTokens', async () => {
        const snap = await db.collection('tokens').where('userId', '==', userId).get();
        return newestFirst(snap.docs.map((d) => d.data() as TokenRecord));
      }),

    // The automatic single-field index on the nested binding.team answers this; ordered in memory like listTokens.
    listTeamTokens: (t) =>
      guard('listTeamTokens', async () => {
        const snap = await db.collection('tokens').where('binding.team', '==', t).get();
        return newestFirst(snap.docs.map((d) => d.data() as TokenRecord));
      }),

    revokeToken: (id, at) =>
      guard('revokeToken', async () => {
        const snap = await db.collection('tokens').where('id', '==', id).get();
        // Keeps the first revocation time, like COALESCE(revoked_at, ?) in SQLite; unknown ids are a no-op.
        for (const found of snap.docs) {
          await optimistic('revokeToken', async () => {
            const d = await found.ref.get();
            if (!d.exists || d.get('revokedAt') != null) return;
            await d.ref.update({ revokedAt: at }, { lastUpdateTime: d.updateTime as Timestamp });
          });
        }
      }),

    setMembership: (t, userId, role, opts) =>
      guard('setMembership', async () => {
        need(t, userId);
        const members = team(t).collection('members');
        const member = members.doc(userId);
        const mirror = db.collection('users').doc(userId).collection('teams').doc(t);
        // Every membership change also bumps state/members under a precondition, so a change made between our
        // reads and our write fails the batch and we re-read: the last-admin check and the write are one step.
        const rev = team(t).collection('state').doc('members');
        await optimistic('setMembership', async () => {
          const revSnap = await rev.get();
          if (opts?.keepAdmin && role !== 'admin') {
            const admins = (await members.where('role', '==', 'admin').get()).docs.map((d) => d.id);
            if (admins.includes(userId) && admins.length <= 1) {
              throw new StudioError(
                'E_CONFLICT',
                `${userId} is the last admin of team ${t}; make someone else admin first`,
              );
            }
          }
          const batch = db.batch();
          if (role === null) batch.delete(member).delete(mirror);
          else batch.set(member, { team: t, userId, role }).set(mirror, { team: t, role });
          if (revSnap.exists) {
            batch.update(rev, { n: FieldValue.increment(1) }, { lastUpdateTime: revSnap.updateTime as Timestamp });
          } else batch.create(rev, { n: 1 });
          await batch.commit();
        });
      }),

    createTeam: (rec) =>
      guard('createTeam', async () => {
        need(rec.id);
        try {
          await team(rec.id).create({ id: rec.id, createdBy: rec.createdBy, createdAt: rec.createdAt });
        } catch (cause) {
          if (!isAlreadyExists(cause)) throw cause;
          throw new StudioError('E_CONFLICT', `team ${rec.id} already exists`, { cause });
        }
      }),

    getTeam: (id) =>
      guard('getTeam', async () => {
        if (!validId(id)) return null;
        const d = await read<TeamRecord>(team(id));
        return d ? { id: d.id, createdBy: d.createdBy, createdAt: d.createdAt } : null;
      }),

    listTeamMembers: (t) =>
      guard('listTeamMembers', async () => {
        if (!validId(t)) return [];
        const snap = await team(t).collection('members').get(); // document-id order = by user id
        return snap.docs.map((d): TeamMember => ({ userId: d.id, role: d.get('role') as Role }));
      }),

    deleteExperiment: (t, key) =>
      guard('deleteExperiment', async () => {
        const ref = validId(t) && validId(key) ? expRef(t, key) : null;
        if (!ref || !(await ref.get()).exists) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
        const arts = await ref.collection('artifacts').select().get();
        const refs: DocumentReference[] = [];
        for (const a of arts.docs) {
          refs.push(...(await a.ref.collection('versions').select().get()).docs.map((d) => d.ref));
        }
        const versions = refs.length;
        refs.push(...arts.docs.map((d) => d.ref));
        // Children first and the experiment last: an interrupted delete leaves the experiment visible, and deleting
        // it again removes the rest.
        for (let i = 0; i < refs.length; i += DELETE_BATCH) {
          const batch = db.batch();
          for (const r of refs.slice(i, i + DELETE_BATCH)) batch.delete(r);
          await batch.commit();
        }
        await ref.delete();
        return { artifacts: arts.size, versions };
      }),

    getMemberships: (userId) =>
      guard('getMemberships', async () => {
        const out: Record<string, Role> = {};
        if (!validId(userId)) return out;
        const snap = await db.collection('users').doc(userId).collection('teams').get();
        for (const d of snap.docs) out[d.id] = d.get('role') as Role;
        return out;
      }),

    close: async () => {
      if (owned) await db.terminate();
    },
  };
}

/** Newest first, ties by id descending (as the SQLite adapter orders tokens). */
function newestFirst(all: TokenRecord[]): TokenRecord[] {
  return all.sort((a, b) =>
    a.createdAt === b.createdAt ? (a.id < b.id ? 1 : a.id > b.id ? -1 : 0) : a.createdAt < b.createdAt ? 1 : -1,
  );
}
