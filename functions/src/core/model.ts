import type { ExperimentRecord, Role, TokenInfo } from '../contract/model.ts';

/** The backend's own records, never sent as they are (the records the API returns are in contract/model.ts). */

/** The fields `updateExperiment` can additionally require to be unchanged (besides the status). */
export interface ExperimentMatch {
  /** The current attempt (a record without one counts as attempt 1). */
  attempt?: number;
  /** The lease deadline as read (null: none). */
  leaseExpiresAt?: string | null;
}

/** Whether `cur` still matches what a caller read (ExperimentStore.updateExperiment's `match`). */
export function experimentMatches(cur: ExperimentRecord, match: ExperimentMatch | undefined): boolean {
  if (!match) return true;
  if (match.attempt !== undefined && (cur.attempt ?? 1) !== match.attempt) return false;
  if (match.leaseExpiresAt !== undefined && (cur.leaseExpiresAt ?? null) !== match.leaseExpiresAt) return false;
  return true;
}

export interface BlobRecord {
  sha256: string;
  size: number;
  /** True once the backend itself has hashed the stored bytes. */
  verified: boolean;
  /**
   * Set by a GC run that found no version referencing the blob (core/gc.ts); cleared when a commit needs the blob
   * again or a later run finds it referenced. A later run deletes it only while this is still the same value.
   */
  condemnedAt?: string | undefined;
  /**
   * Where a small blob lives when it was uploaded in a pack (core/packs.ts): the pack object `packKey(team, id)` holds
   * it at `offset`, `size` bytes long. Absent: the blob is its own object at `blobKey(team, sha256)`.
   */
  pack?: PackLocation | undefined;
}

/** A packed blob's place: the pack's id and the byte offset of the blob inside it. */
export interface PackLocation {
  id: string;
  offset: number;
}

/** A blob record as GC pages through them (BlobIndex.listBlobs). */
export interface StoredBlobRecord extends BlobRecord {
  createdAt: string;
  /** A GC run is deleting the object: the blob counts as absent and cannot be recorded again until it is gone. */
  deleting: boolean;
}

export interface UserRecord {
  id: string;
  name: string;
  /** Lower-cased sign-in email (Firebase Auth users); null for the local user and service users. */
  email?: string | null;
  createdAt: string;
}

/** A stored token: what its owner sees, plus the sha256 of the secret (the secret itself is never stored). */
export interface TokenRecord extends TokenInfo {
  hash: string;
}

export interface TeamMember {
  userId: string;
  role: Role;
}
