import type { JobExpect, JobListQuery, JobRecord, JobStatus } from '../contract/job-model.ts';
import type { AuditAction, AuditEntry, Principal } from '../contract/model.ts';
import type { ResumableStartRequest, SignedRequest } from '../contract/transfer.ts';

export type { AccountStore } from './ports/account-store.ts';
export type { BlobIndex } from './ports/blob-index.ts';
export {
  type CommitVersionInput,
  type ExperimentListQuery,
  type ExperimentStore,
  versionFromCommit,
} from './ports/experiment-store.ts';
export type { RetentionStore } from './ports/retention-store.ts';
export { type MetadataPorts, metadataPorts } from './ports/stores.ts';
export type { TokenStore } from './ports/token-store.ts';

export interface StoredObject {
  key: string;
  size: number;
  createdAt: string;
}

/** `length` bytes starting at byte `offset` of an object. */
export interface ByteRange {
  offset: number;
  length: number;
}

export interface UploadConstraint {
  size: number;
  sha256: string;
  /** base64 MD5 when the client knows it; stores that can check it on upload bind it into the URL. */
  md5?: string | undefined;
  expiresAt: Date;
}

/**
 * Object storage addressed by server-built keys. Errors: E_NOT_FOUND for an absent object, E_UNAVAILABLE when the
 * backend cannot be reached; anything else is wrapped as E_INTERNAL with `cause`.
 */
export interface BlobStore {
  /**
   * Stored size and when the current content was written (GCS: timeCreated; disk: mtime), or null when the object
   * does not exist. Never throws E_NOT_FOUND.
   */
  stat(key: string): Promise<{ size: number; createdAt: string } | null>;
  /** Server-side write of a small object (manifests). Overwrites are idempotent for content-addressed keys. */
  put(key: string, data: Uint8Array, contentType: string): Promise<void>;
  /** Server-side read of a whole object. Throws E_NOT_FOUND. */
  get(key: string): Promise<Uint8Array>;
  /**
   * Server-side streaming read (verification, archives), of the whole object or of `length` bytes at `offset` (a
   * blob inside a pack). Throws E_NOT_FOUND.
   */
  read(key: string, range?: ByteRange): Promise<AsyncIterable<Uint8Array>>;
  /** Removes an object; absent objects are not an error. */
  delete(key: string): Promise<void>;
  /**
   * Moves the object at `from` to `to` (a staged upload becoming a team blob). When `to` already exists it is kept
   * (content-addressed: same name) and `from` is just removed. Returns whether `from` became `to` (false: `to` was
   * there). Throws E_NOT_FOUND when `from` is absent.
   */
  promote(from: string, to: string): Promise<boolean>;
  /**
   * One page of the objects whose key starts with `prefix`, in ascending key order, starting after the key `after`
   * (exclusive). `createdAt` is when the object's current content was written (GCS: timeCreated of the live
   * generation; disk: mtime). Objects still being uploaded (temporary files, unfinished resumable sessions) are
   * not listed. An empty page means the end.
   */
  list(prefix: string, q: { after?: string | undefined; limit: number }): Promise<StoredObject[]>;
  /** A PUT request bound to this key, method, size and sha256, valid until expiresAt. */
  signUpload(key: string, c: UploadConstraint): Promise<SignedRequest>;
  /**
   * A GET request bound to this key, valid until expiresAt; with `range`, bound to exactly those bytes (a pack's
   * members: the URL must never hand out the rest of the pack). GCS signs the `Range` header (the client sends it as
   * given); the disk store binds the range into the URL and its host answers only those bytes.
   */
  signDownload(key: string, expiresAt: Date, range?: ByteRange): Promise<SignedRequest>;
  /**
   * One PUT that creates the pack object `key` (core/packs.ts): its body is the members' bytes concatenated in this
   * order, `id` names the pack (a fresh key per plan, so the PUT is create-only). A store that hashes uploads
   * (`verifiesOnUpload`: disk) checks every member on arrival and stores nothing unless all match; others (GCS) bind
   * the total size and create-only, and the backend hashes the members once when the client registers the pack.
   * Downloads of members are `signDownload(key)` sent with a `Range` header.
   */
  signPackUpload(
    key: string,
    id: string,
    members: { sha256: string; size: number }[],
    expiresAt: Date,
  ): Promise<SignedRequest>;
  /**
   * Optional: a POST that opens a resumable upload session for this key, bound like signUpload (key, size, expiry),
   * so a large blob whose transfer is interrupted continues where it stopped instead of starting over. The session
   * URI it yields is a bearer capability for this one object. Backends without sessions (the local disk store)
   * leave this undefined and large blobs get only the single PUT of signUpload.
   */
  signResumableUpload?(key: string, c: UploadConstraint): Promise<ResumableStartRequest>;
  /** True when uploads through signed URLs are hashed by the store before they become visible. */
  readonly verifiesOnUpload: boolean;
}

export interface AuditListQuery {
  /** At most this many entries (the caller bounds it). */
  limit: number;
  /** Only entries whose id sorts before this id (the next page after an entry, or a time bound from auditIdBound). */
  before?: string | undefined;
  action?: AuditAction | undefined;
}

/**
 * The append-only audit log of each team. There is no update or delete: adapters refuse them even below this
 * interface (SQLite triggers, Firestore create-only documents and rules). Errors: E_CONFLICT, E_UNAVAILABLE.
 */
export interface AuditLog {
  /** Appends one entry. Throws E_CONFLICT if (team, id) already exists; an existing entry is never replaced. */
  append(entry: AuditEntry): Promise<void>;
  /** A team's entries, newest (largest id) first. */
  list(team: string, q: AuditListQuery): Promise<AuditEntry[]>;
}

/** Resolves bearer credentials. Throws E_UNAUTHENTICATED (missing, malformed, unknown, revoked) or E_TOKEN_EXPIRED. */
export interface Identity {
  authenticate(bearer: string | undefined): Promise<Principal>;
}

/**
 * Queued jobs (core/jobs.ts builds leases, heartbeats and expiry on these). Every write is a compare-and-set on the
 * job's status and attempt, so two workers can never both lease one job. Errors: E_CONFLICT (exists / precondition
 * failed), E_NOT_FOUND, E_UNAVAILABLE.
 */
export interface JobStore {
  /** Inserts a job. Throws E_CONFLICT if (team, id) exists. */
  createJob(job: JobRecord): Promise<void>;
  getJob(team: string, id: string): Promise<JobRecord | null>;
  /**
   * Applies `patch` when the job satisfies `expect` (`jobMatches`: status in `expect.status`, and, when given, the
   * attempt and the lease deadline equal). Returns the updated job. Throws E_NOT_FOUND, or E_CONFLICT when the
   * precondition fails.
   */
  updateJob(
    team: string,
    id: string,
    patch: Partial<Omit<JobRecord, 'team' | 'id'>>,
    expect: JobExpect,
  ): Promise<JobRecord>;
  /**
   * Removes a job when its status is in `expect.status` (its experiment was deleted; the key may be queued again).
   * An absent job is not an error. Throws E_CONFLICT when the status precondition fails.
   */
  deleteJob(team: string, id: string, expect: { status: JobStatus[] }): Promise<void>;
  /** Queued jobs of one queue, oldest `queuedAt` first. */
  listQueued(team: string, queue: string, limit: number): Promise<JobRecord[]>;
  /** Jobs of a team, newest `queuedAt` first, optionally by queue and status. */
  listJobs(team: string, q: JobListQuery): Promise<JobRecord[]>;
}
