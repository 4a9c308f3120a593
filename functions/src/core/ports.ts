import type { JobExpect, JobListQuery, JobRecord, JobStatus } from '../contract/job-model.ts';
import type {
  ArtifactRecord,
  AuditAction,
  AuditEntry,
  CaptureStats,
  ExperimentRecord,
  Principal,
  Role,
  TeamRecord,
  VersionRecord,
} from '../contract/model.ts';
import type { ResumableStartRequest, SignedRequest } from '../contract/transfer.ts';
import type { BlobRecord, ExperimentMatch, StoredBlobRecord, TeamMember, TokenRecord, UserRecord } from './model.ts';

export interface StoredObject {
  key: string;
  size: number;
  createdAt: string;
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
  /** Stored size, or null when the object does not exist. Never throws E_NOT_FOUND. */
  stat(key: string): Promise<{ size: number } | null>;
  /** Server-side write of a small object (manifests). Overwrites are idempotent for content-addressed keys. */
  put(key: string, data: Uint8Array, contentType: string): Promise<void>;
  /** Server-side read of a whole object. Throws E_NOT_FOUND. */
  get(key: string): Promise<Uint8Array>;
  /** Server-side streaming read (for verification). Throws E_NOT_FOUND. */
  read(key: string): Promise<AsyncIterable<Uint8Array>>;
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
  /** A GET request bound to this key, valid until expiresAt. */
  signDownload(key: string, expiresAt: Date): Promise<SignedRequest>;
  /**
   * Optional: one PUT whose body is the concatenation of several small blobs, each verified and stored under its
   * own key. Backends that cannot split a body server-side leave this undefined and get one URL per blob.
   */
  signPackUpload?(members: { key: string; size: number; sha256: string }[], expiresAt: Date): Promise<SignedRequest>;
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

export interface CommitVersionInput {
  team: string;
  experiment: string;
  tag: string;
  mutable: boolean;
  digest: string;
  manifestSha256: string;
  files: number;
  bytes: number;
  stats: CaptureStats;
  createdBy: string;
  createdAt: string;
}

/** The version record a commit creates as number `version` (shared by every MetadataStore adapter). */
export function versionFromCommit(input: CommitVersionInput, version: number): VersionRecord {
  const { mutable: _mutable, ...rest } = input;
  return { ...rest, version };
}

export interface ExperimentListQuery {
  project?: string | undefined;
  status?: ExperimentRecord['status'] | undefined;
  owner?: string | undefined;
  /** Cursor: only experiments after this one in the list order (createdAt desc, then key desc). */
  after?: { createdAt: string; key: string } | undefined;
  limit?: number | undefined;
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

/**
 * Metadata in one transactional store. Every multi-record change is atomic. Errors: E_EXPERIMENT_EXISTS,
 * E_NOT_FOUND, E_IMMUTABLE, E_CONFLICT as documented per method; E_UNAVAILABLE when unreachable.
 */
export interface MetadataStore {
  /** Inserts a new experiment. Throws E_EXPERIMENT_EXISTS if (team, key) exists; never overwrites. */
  createExperiment(exp: ExperimentRecord): Promise<void>;
  /** The experiment or null. */
  getExperiment(team: string, key: string): Promise<ExperimentRecord | null>;
  /**
   * Applies `patch` atomically when the current status is one of `fromStatuses` (if given) and the record still
   * matches `match` (attempt, lease deadline; see experimentMatches). Returns the updated record. Throws
   * E_NOT_FOUND, or E_CONFLICT when a precondition fails (nothing written).
   */
  updateExperiment(
    team: string,
    key: string,
    patch: Partial<Omit<ExperimentRecord, 'team' | 'key'>>,
    fromStatuses?: ExperimentRecord['status'][],
    match?: ExperimentMatch,
  ): Promise<ExperimentRecord>;
  /** Newest first (createdAt desc, ties by key desc), filtered by every given field, after the cursor `after`. */
  listExperiments(team: string, q: ExperimentListQuery): Promise<ExperimentRecord[]>;
  /**
   * Atomically creates the artifact if needed and appends a version, unless the latest version has the same digest
   * (then returns it with created=false). Throws E_IMMUTABLE when an immutable artifact already has a different
   * version, E_CONFLICT when `mutable` disagrees with the existing artifact.
   */
  commitVersion(input: CommitVersionInput): Promise<{ version: VersionRecord; created: boolean }>;
  /** A version (latest when `version` is undefined) or null. */
  getVersion(team: string, experiment: string, tag: string, version?: number): Promise<VersionRecord | null>;
  /** All artifacts of an experiment, by tag. */
  listArtifacts(team: string, experiment: string): Promise<ArtifactRecord[]>;
  /** All versions of one artifact, oldest first. */
  listVersions(team: string, experiment: string, tag: string): Promise<VersionRecord[]>;
  /**
   * Which of `sha256s` the team has (present in storage and recorded), with `condemnedAt` when set. Records a GC run
   * is deleting (`deleting`) are left out: such a blob counts as absent.
   */
  findBlobs(team: string, sha256s: string[]): Promise<Map<string, BlobRecord>>;
  /**
   * Records stored blobs (the `condemnedAt` of the input is ignored). Creates absent records; on existing ones it
   * can only upgrade `verified` to true, and it clears `condemnedAt` (a commit needs the blob again). Throws
   * E_CONFLICT with `details.deleting` (the sha256s) when any of them is `deleting`; SQLite then writes nothing,
   * Firestore may have written other chunks (each record stands alone, so that is harmless).
   */
  putBlobs(team: string, blobs: BlobRecord[]): Promise<void>;

  /** Garbage collection of blobs (core/gc.ts). */
  /** One page of the team's blob records, `deleting` ones included, by sha256 ascending, after `after` (exclusive). */
  listBlobs(team: string, q: { after?: string | undefined; limit: number }): Promise<StoredBlobRecord[]>;
  /**
   * Condemns blobs: sets `condemnedAt = at` on existing records that are neither condemned nor deleting; creates a
   * record `{ size, verified: false, condemnedAt: at }` for an absent one (an object storage holds without a record).
   * Returns the sha256s it changed or created.
   */
  condemnBlobs(team: string, blobs: { sha256: string; size: number }[], at: string): Promise<string[]>;
  /** Clears `condemnedAt` on these records (a GC run found them referenced); deleting or absent ones are left alone. */
  absolveBlobs(team: string, sha256s: string[]): Promise<void>;
  /**
   * Compare-and-set: marks the record `deleting` when it exists, is not deleting, and its `condemnedAt` equals
   * `condemnedAt` (no commit needed it since). Returns whether it did. A record already `deleting` returns true
   * (a crashed GC run is finished by the next one).
   */
  beginBlobDelete(team: string, sha256: string, condemnedAt: string): Promise<boolean>;
  /** Removes a record that is `deleting` (its object is gone); a record in any other state is left alone. */
  finishBlobDelete(team: string, sha256: string): Promise<void>;

  /** Users, tokens, memberships (the Identity adapters build on these). */
  putUser(user: UserRecord): Promise<void>;
  getUser(id: string): Promise<UserRecord | null>;
  /** Every user, by id ascending (a shared box's `user list`; deployments have few hundred at most). */
  listUsers(): Promise<UserRecord[]>;
  /** The user whose (case-insensitive) email this is, or null. putUser throws E_CONFLICT for a taken email. */
  findUserByEmail(email: string): Promise<UserRecord | null>;
  putToken(token: TokenRecord): Promise<void>;
  getTokenByHash(hash: string): Promise<TokenRecord | null>;
  /** The token with this id (not the hash), or null. */
  getToken(id: string): Promise<TokenRecord | null>;
  /** Every token of one user, revoked and expired ones included, newest (createdAt) first. */
  listTokens(userId: string): Promise<TokenRecord[]>;
  /** Every worker and job token bound to `team` (binding.team), revoked and expired included, newest first. */
  listTeamTokens(team: string): Promise<TokenRecord[]>;
  /** Sets revokedAt unless already set (the first revocation time is kept); unknown ids are a no-op. */
  revokeToken(id: string, at: string): Promise<void>;
  /**
   * Sets (null: removes) a role. With `keepAdmin`, throws E_CONFLICT when the change would leave the team without an
   * admin; the check and the write are one atomic step, so two admins demoting each other cannot both succeed.
   */
  setMembership(team: string, userId: string, role: Role | null, opts?: { keepAdmin?: boolean }): Promise<void>;
  getMemberships(userId: string): Promise<Record<string, Role>>;
  /** Creates a team record. Throws E_CONFLICT if it exists. */
  createTeam(team: TeamRecord): Promise<void>;
  /** The team record or null (teams made before records existed have members but no record). */
  getTeam(id: string): Promise<TeamRecord | null>;
  /** The team's members by user id. */
  listTeamMembers(team: string): Promise<TeamMember[]>;
  /**
   * Removes an experiment with its artifacts and versions (blobs stay: they may be shared; a GC run frees them).
   * SQLite: one transaction; Firestore: batches, the experiment document last, so a retry finishes an interrupted
   * delete. Returns what was removed. Throws E_NOT_FOUND.
   */
  deleteExperiment(team: string, key: string): Promise<{ artifacts: number; versions: number }>;
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
