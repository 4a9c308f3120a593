import type { Role } from './model.ts';

/** Outputs of core use cases that the API returns as they are (the core imports them from here). */

export interface Amount {
  blobs: number;
  bytes: number;
}

export interface GcReport {
  team: string;
  dryRun: boolean;
  graceSeconds: number;
  startedAt: string;
  finishedAt: string;
  experiments: number;
  versions: number;
  /** Distinct blobs (manifests included) the versions reference. */
  referenced: Amount;
  /** Objects and records removed by this run (condemned by a run at least `grace` earlier). */
  deleted: Amount;
  /** Newly condemned by this run; a run after `deleteAfter` deletes them unless a version needs them again. */
  condemned: Amount;
  /** Of `condemned`: objects storage held without a record (captures that never committed). */
  unrecorded: Amount;
  /** Condemned by an earlier run, grace not over yet. */
  pending: Amount;
  /** Condemned earlier, referenced again (by a version or a commit during this run): kept. */
  absolved: number;
  /** Job tokens' staged uploads older than the grace that no commit promoted (core/job-blobs.ts): deleted. */
  staged: Amount;
  /**
   * Pack objects (core/packs.ts; `blobs` counts packs): `deleted` held no recorded blob any more; `repacked` were
   * mostly dead, their live members rewritten into new packs (`bytes`: the dead bytes a later run frees with the old
   * pack); `live` are kept as they are (their few dead members' bytes stay until the pack is repacked or deleted).
   */
  packs?: { deleted: Amount; live: Amount; repacked: Amount };
  /** The earliest time a run may delete what this run condemned; null when it condemned nothing. */
  deleteAfter: string | null;
}

export interface DeleteExperimentResult {
  key: string;
  status: string;
  artifacts: number;
  versions: number;
}

/** One of the caller's teams: the membership role and what this credential may do there (capped by its scopes). */
export interface MyTeam {
  id: string;
  role: Role;
  effectiveRole: Role | null;
}

export interface MemberInfo {
  userId: string;
  role: Role;
  name: string | null;
  email: string | null;
}

/** A version alias as the API answers it (core/aliases.ts; the team is the caller's). */
export interface AliasView {
  name: string;
  version: number;
  updatedAt: string;
  updatedBy: string;
}

/** The answer of an alias set, move or delete: the version it named before and after (null: none). */
export interface AliasChange {
  experiment: string;
  tag: string;
  name: string;
  from: number | null;
  to: number | null;
}

/** What a retention run deleted (or, dry, would delete), and what it left because it is protected. */
export interface RetentionReport {
  dryRun: boolean;
  /** Experiments looked at (those a policy covers). */
  experiments: number;
  /** Experiments deleted (would be) because they ended more than expireDays ago. */
  expired: string[];
  /** Versions deleted (would be) by the keep rules, and the versions they referenced in bytes (GC frees blobs). */
  versionsDeleted: number;
  bytes: number;
  /** Per artifact, the versions deleted (would be); at most RETENTION_REPORT_MAX entries. */
  deletions: { experiment: string; tag: string; versions: number[] }[];
  /** What a rule would have deleted but stays: why (alias, lineage, running); at most RETENTION_REPORT_MAX. */
  protected: {
    experiment: string;
    tag: string | null;
    version: number | null;
    reason: 'alias' | 'lineage' | 'running';
  }[];
  /** True when deletions or protected were cut at RETENTION_REPORT_MAX (the counts are whole). */
  truncated: boolean;
}
export const RETENTION_REPORT_MAX = 1000;
