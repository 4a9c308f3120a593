/**
 * BlobIndex on Cloud Firestore: `teams/{team}/blobs/{sha256}` = { sha256, size, verified, createdAt, condemnedAt?,
 * deleting?, pack? } (older documents lack the last three: not condemned, not deleting, not packed). listBlobs orders one team's blobs by
 * document id (= sha256), which needs no index. Every GC write is conditional on what was read (create, or update
 * with lastUpdateTime), so a racing beginBlobDelete and a rescue (putBlobs, absolveBlobs) cannot both win.
 */
import { type DocumentReference, FieldPath, FieldValue, type Firestore, type Timestamp } from '@google-cloud/firestore';
import { StudioError } from '../../contract/errors.ts';
import type { BlobRecord, StoredBlobRecord } from '../../core/model.ts';
import type { BlobIndex } from '../../core/ports.ts';
import { casUpdate, chunked, guard, need, optimistic, teamCollection, validId } from './firestore-kit.ts';

type BlobDoc = {
  sha256: string;
  size: number;
  verified: boolean;
  createdAt: string;
  condemnedAt?: string;
  deleting?: boolean;
  /** Where a packed blob lives (core/packs.ts). */
  pack?: { id: string; offset: number };
};
type Sized = { sha256: string; size: number };

const GET_ALL_CHUNK = 300;
const BLOB_BATCH = 250;

function toBlob(id: string, d: BlobDoc): BlobRecord {
  const rec: BlobRecord = { sha256: id, size: d.size, verified: d.verified === true };
  if (typeof d.condemnedAt === 'string') rec.condemnedAt = d.condemnedAt;
  if (d.pack && typeof d.pack.id === 'string') rec.pack = { id: d.pack.id, offset: d.pack.offset };
  return rec;
}

const toStoredBlob = (id: string, d: BlobDoc): StoredBlobRecord => ({
  ...toBlob(id, d),
  createdAt: d.createdAt,
  deleting: d.deleting === true,
});

/** One entry per hash (a repeated hash counts as verified if any copy is, and keeps the place of the first). */
function merged(blobs: BlobRecord[]): BlobRecord[] {
  const out = new Map<string, BlobRecord>();
  for (const b of blobs) {
    const prev = out.get(b.sha256);
    const verified = b.verified || prev?.verified === true;
    const pack = prev?.verified ? prev.pack : b.verified ? b.pack : prev?.pack;
    out.set(b.sha256, { sha256: b.sha256, size: b.size, verified, ...(pack ? { pack } : {}) });
  }
  return [...out.values()];
}

function chunkWriters(db: Firestore, blobRef: (t: string, sha: string) => DocumentReference) {
  const snapsOf = (t: string, shas: string[]) => db.getAll(...shas.map((sha) => blobRef(t, sha)));
  return {
    /** Records one chunk in one atomic batch; returns the deleting hashes instead of writing if there are any. */
    put: (t: string, chunk: BlobRecord[], now: string) =>
      optimistic('putBlobs', async (): Promise<string[]> => {
        const snaps = await snapsOf(
          t,
          chunk.map((b) => b.sha256),
        );
        const deleting = snaps.filter((s) => s.exists && s.get('deleting') === true).map((s) => s.id);
        if (deleting.length > 0) return deleting;
        const batch = db.batch();
        let writes = 0;
        snaps.forEach((snap, i) => {
          const b = chunk[i] as BlobRecord;
          if (!snap.exists) {
            const doc: BlobDoc = { sha256: b.sha256, size: b.size, verified: b.verified, createdAt: now };
            if (b.pack) doc.pack = { id: b.pack.id, offset: b.pack.offset };
            batch.create(snap.ref, doc);
            writes++;
            return;
          }
          const patch: Record<string, unknown> = {};
          if (b.verified && snap.get('verified') !== true) {
            // Becoming verified takes the place its verifier found (a pack, or its own object).
            patch.verified = true;
            patch.pack = b.pack ? { id: b.pack.id, offset: b.pack.offset } : FieldValue.delete();
          }
          if (snap.get('condemnedAt') != null) patch.condemnedAt = FieldValue.delete();
          if (Object.keys(patch).length > 0) {
            casUpdate(batch, snap, patch);
            writes++;
          }
        });
        if (writes > 0) await batch.commit();
        return [];
      }),
    /** Condemns one chunk (one atomic, conditional batch); returns the hashes it created or changed. */
    condemn: (t: string, chunk: Sized[], at: string, now: string) =>
      optimistic('condemnBlobs', async (): Promise<string[]> => {
        const snaps = await snapsOf(
          t,
          chunk.map((b) => b.sha256),
        );
        const batch = db.batch();
        const changed: string[] = [];
        snaps.forEach((snap, i) => {
          const b = chunk[i] as Sized;
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
      }),
    /** Absolves one chunk (one atomic, conditional batch). */
    absolve: (t: string, chunk: string[]) =>
      optimistic('absolveBlobs', async () => {
        const snaps = await snapsOf(t, chunk);
        const batch = db.batch();
        let writes = 0;
        for (const snap of snaps) {
          if (snap.exists && snap.get('deleting') !== true && snap.get('condemnedAt') != null) {
            casUpdate(batch, snap, { condemnedAt: FieldValue.delete() });
            writes++;
          }
        }
        if (writes > 0) await batch.commit();
      }),
  };
}

/** BlobIndex on Firestore. Import lazily: it loads the Firestore SDK. */
export function createFirestoreBlobIndex(db: Firestore): BlobIndex {
  const blobs = (t: string) => teamCollection(db, t, 'blobs');
  const blobRef = (t: string, sha: string) => blobs(t).doc(sha);
  const w = chunkWriters(db, blobRef);
  return {
    findBlobs: (t, sha256s) =>
      guard('findBlobs', async () => {
        const found = new Map<string, BlobRecord>();
        if (!validId(t)) return found;
        const wanted = chunked([...new Set(sha256s)].filter(validId), GET_ALL_CHUNK);
        const results = await Promise.all(wanted.map((c) => db.getAll(...c.map((sha) => blobRef(t, sha)))));
        for (const snap of results.flat()) {
          if (!snap.exists) continue;
          const d = snap.data() as BlobDoc;
          if (d.deleting === true) continue; // a GC run is deleting it: counts as absent
          found.set(snap.id, toBlob(snap.id, d));
        }
        return found;
      }),
    putBlobs: (t, list) =>
      guard('putBlobs', async () => {
        need(t, ...list.map((b) => b.sha256));
        // Chunks are independent: a blob record stands alone and re-recording is idempotent. A chunk holding a
        // deleting record writes nothing; other chunks may have been written when the E_CONFLICT is thrown.
        const now = new Date().toISOString();
        const results = await Promise.all(chunked(merged(list), BLOB_BATCH).map((c) => w.put(t, c, now)));
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
        let query = blobs(t).orderBy(FieldPath.documentId());
        // Every document id is a non-empty string, so an empty `after` is the start.
        if (q.after !== undefined && q.after !== '') {
          need(q.after);
          query = query.startAfter(q.after);
        }
        const snap = await query.limit(limit).get();
        return snap.docs.map((d) => toStoredBlob(d.id, d.data() as BlobDoc));
      }),
    condemnBlobs: (t, list, at) =>
      guard('condemnBlobs', async () => {
        need(t, ...list.map((b) => b.sha256));
        const unique = new Map<string, Sized>();
        for (const b of list) if (!unique.has(b.sha256)) unique.set(b.sha256, { sha256: b.sha256, size: b.size });
        const now = new Date().toISOString();
        const chunks = chunked([...unique.values()], BLOB_BATCH);
        return (await Promise.all(chunks.map((c) => w.condemn(t, c, at, now)))).flat();
      }),
    absolveBlobs: (t, sha256s) =>
      guard('absolveBlobs', async () => {
        if (!validId(t)) return;
        const wanted = [...new Set(sha256s)].filter(validId); // an id Firestore cannot store has no record
        await Promise.all(chunked(wanted, BLOB_BATCH).map((c) => w.absolve(t, c)));
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
    movePackedBlobs: (t, moves) =>
      guard('movePackedBlobs', async () => {
        need(t, ...moves.map((m) => m.sha256));
        const moved = await Promise.all(
          chunked(moves, BLOB_BATCH).map((chunk) =>
            optimistic('movePackedBlobs', async () => {
              const snaps = await db.getAll(...chunk.map((m) => blobRef(t, m.sha256)));
              const batch = db.batch();
              const out: string[] = [];
              snaps.forEach((snap, i) => {
                const m = chunk[i] as (typeof chunk)[number];
                const pack = snap.exists ? (snap.get('pack') as BlobDoc['pack']) : undefined;
                if (!pack || snap.get('deleting') === true) return;
                if (pack.id !== m.from.id || pack.offset !== m.from.offset) return;
                // Lands only if nothing changed the record since the read (a delete, another move).
                casUpdate(batch, snap, { pack: { id: m.to.id, offset: m.to.offset } });
                out.push(m.sha256);
              });
              if (out.length > 0) await batch.commit();
              return out;
            }),
          ),
        );
        return moved.flat();
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
  };
}
