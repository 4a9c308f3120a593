import type { ArtifactRecord, CaptureStats, ExperimentRecord, VersionRecord } from '../../contract/model.ts';
import type { ExperimentMatch } from '../model.ts';

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

/** The version record a commit creates as number `version` (shared by every ExperimentStore adapter). */
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

/**
 * Experiments with their artifacts and versions: one team's tree, changed atomically (the experiment record's
 * compare-and-set, the version commit's compare-and-append, the delete of the whole tree). Errors:
 * E_EXPERIMENT_EXISTS, E_NOT_FOUND, E_IMMUTABLE, E_CONFLICT as documented per method; E_BAD_REQUEST for an
 * identifier the store cannot hold; E_UNAVAILABLE when unreachable.
 */
export interface ExperimentStore {
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
   * Removes an experiment with its artifacts and versions (blobs stay: they may be shared; a GC run frees them).
   * SQLite: one transaction; Firestore: batches, the experiment document last, so a retry finishes an interrupted
   * delete. Returns what was removed. Throws E_NOT_FOUND.
   */
  deleteExperiment(team: string, key: string): Promise<{ artifacts: number; versions: number }>;
  /**
   * Atomically creates the artifact if needed and appends a version, unless the latest version has the same digest
   * (then returns it with created=false). Concurrent commits to one tag get distinct consecutive numbers. Throws
   * E_IMMUTABLE when an immutable artifact already has a different version, E_CONFLICT when `mutable` disagrees
   * with the existing artifact.
   */
  commitVersion(input: CommitVersionInput): Promise<{ version: VersionRecord; created: boolean }>;
  /** A version (latest when `version` is undefined) or null. */
  getVersion(team: string, experiment: string, tag: string, version?: number): Promise<VersionRecord | null>;
  /** All artifacts of an experiment, by tag. */
  listArtifacts(team: string, experiment: string): Promise<ArtifactRecord[]>;
  /** All versions of one artifact, oldest first. */
  listVersions(team: string, experiment: string, tag: string): Promise<VersionRecord[]>;
  /**
   * Deletes these versions of one artifact (retention; their blobs stay until a GC run frees them). Never the latest
   * one: throws E_CONFLICT, nothing deleted, if `versions` holds the artifact's latest version. Returns the versions
   * this call deleted: of concurrent calls naming the same version exactly one gets it (the others skip it). A
   * version already gone is skipped; an artifact or experiment gone deletes nothing.
   */
  deleteVersions(team: string, experiment: string, tag: string, versions: number[]): Promise<number[]>;
}
