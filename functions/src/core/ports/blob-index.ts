import type { BlobRecord, PackLocation, StoredBlobRecord } from '../model.ts';

/**
 * Which content-addressed blobs each team has (the records; the bytes are in the BlobStore), and the compare-and-sets
 * that let a garbage collection run (core/gc.ts) delete a blob only if no commit needed it meanwhile: condemn,
 * absolve (rescue), begin delete, finish delete. Errors: E_CONFLICT (putBlobs on a blob being deleted),
 * E_BAD_REQUEST for an identifier the store cannot hold, E_UNAVAILABLE when unreachable.
 */
export interface BlobIndex {
  /**
   * Which of `sha256s` the team has (present in storage and recorded), with `condemnedAt` and `pack` when set. Records a GC run
   * is deleting (`deleting`) are left out: such a blob counts as absent.
   */
  findBlobs(team: string, sha256s: string[]): Promise<Map<string, BlobRecord>>;
  /**
   * Records stored blobs (the `condemnedAt` of the input is ignored). Creates absent records; on existing ones it
   * can only upgrade `verified` to true (taking the input's `pack` with it: the place whoever verified it found it),
   * and it clears `condemnedAt` (a commit needs the blob again). A verified record keeps its place. Throws
   * E_CONFLICT with `details.deleting` (the sha256s) when any of them is `deleting`; SQLite then writes nothing,
   * Firestore may have written other chunks (each record stands alone, so that is harmless).
   */
  putBlobs(team: string, blobs: BlobRecord[]): Promise<void>;
  /** One page of the team's blob records, `deleting` ones included, by sha256 ascending, after `after` (exclusive). */
  listBlobs(team: string, q: { after?: string | undefined; limit: number }): Promise<StoredBlobRecord[]>;
  /**
   * Condemns blobs: sets `condemnedAt = at` on existing records that are neither condemned nor deleting; creates a
   * record `{ size, verified: false, condemnedAt: at }` for an absent one (an object storage holds without a record).
   * Returns the sha256s it changed or created.
   */
  condemnBlobs(team: string, blobs: { sha256: string; size: number }[], at: string): Promise<string[]>;
  /**
   * Clears `condemnedAt` on these records (a GC run found them referenced); deleting or absent ones are left alone.
   * A compare-and-set against beginBlobDelete: of an absolve and a begin-delete racing on one condemned record,
   * at most one takes effect.
   */
  absolveBlobs(team: string, sha256s: string[]): Promise<void>;
  /**
   * Compare-and-set: marks the record `deleting` when it exists, is not deleting, and its `condemnedAt` equals
   * `condemnedAt` (no commit needed it since). Returns whether it did. A record already `deleting` returns true
   * (a crashed GC run is finished by the next one).
   */
  beginBlobDelete(team: string, sha256: string, condemnedAt: string): Promise<boolean>;
  /** Removes a record that is `deleting` (its object is gone); a record in any other state is left alone. */
  finishBlobDelete(team: string, sha256: string): Promise<void>;
  /**
   * Compare-and-set per record (a GC run repacking, core/gc.ts): points each record that still lives at `from` and is
   * not `deleting` at `to`; others are left alone. Returns the sha256s it moved.
   */
  movePackedBlobs(team: string, moves: { sha256: string; from: PackLocation; to: PackLocation }[]): Promise<string[]>;
}
