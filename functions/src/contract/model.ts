import type { Manifest } from './manifest.ts';

/** The records the API returns as they are (the backend's own records are in core/model.ts). */

export type Role = 'viewer' | 'editor' | 'admin';
export const ROLE_RANK: Record<Role, number> = { viewer: 1, editor: 2, admin: 3 };

export type ExperimentStatus = 'queued' | 'running' | 'finished' | 'failed' | 'stopped' | 'lost' | 'expired';
export const TERMINAL_STATUSES: readonly ExperimentStatus[] = ['finished', 'failed', 'stopped', 'lost', 'expired'];

/** Which artifact version a run consumed through --reuse. */
export interface LineageEntry {
  as: string;
  experiment: string;
  tag: string;
  version: number;
}

/** One run of an experiment: the first `run`, then one per `--resume` (or the worker's attempts, see jobs). */
export interface AttemptRecord {
  attempt: number;
  status: ExperimentStatus;
  command: string[];
  host: string | null;
  startedAt: string;
  finishedAt: string | null;
  /** Last heartbeat (or start) of this attempt. */
  lastSeenAt: string | null;
  exitCode: number | null;
  signal: string | null;
}

export interface ExperimentRecord {
  team: string;
  key: string;
  project: string | null;
  owner: string;
  status: ExperimentStatus;
  command: string[];
  cwd: string | null;
  host: string | null;
  git: { commit: string; url: string | null; dirty: boolean } | null;
  createdAt: string;
  startedAt: string | null;
  finishedAt: string | null;
  exitCode: number | null;
  signal: string | null;
  /** Files skipped during capture (unreadable etc.), as "tag: path: reason". */
  warnings: string[];
  lineage: LineageEntry[];
  /** The current attempt (1 for the first run; each --resume adds one). Absent on records from before attempts. */
  attempt?: number | null;
  /** Every attempt, oldest first; the last one mirrors the top-level status, command and exit code. */
  attempts?: AttemptRecord[];
  /** When the running attempt last renewed its lease (run heartbeat); kept after it ends or is lost. */
  lastSeenAt?: string | null;
  /** A direct `run` renews this while it lives; once it lapses the run is `lost` (core/run-lease.ts). */
  leaseExpiresAt?: string | null;
  /** Set on an experiment that `studio-lite push` brought from another backend (core/push.ts). */
  push?: PushInfo | null;
}

/** Where a pushed experiment came from, and who pushed it when; its own fields keep the original creator and times. */
export interface PushInfo {
  /** The history it continues (historyId of the source record): a push of another history under this key is refused. */
  origin: string;
  /** The source backend as the pusher named it: `local` or an API URL. */
  from: string;
  /** The user who pushed last, from which host, when. */
  by: string;
  host: string | null;
  at: string;
  /** False while a push is receiving versions (an interrupted push leaves it so; the next one finishes it). */
  complete: boolean;
}

export interface ArtifactRecord {
  team: string;
  experiment: string;
  tag: string;
  mutable: boolean;
  latestVersion: number;
  createdAt: string;
  updatedAt: string;
}

/** Transfer figures a client reports with a commit (shown by `show --json`). */
export interface CaptureStats {
  hashedFiles: number;
  hashedBytes: number;
  uploadedBlobs: number;
  uploadedBytes: number;
  skipped: string[];
  /** Paths left out because they are captured under their own tag, as "out (captured as weights)". */
  excluded?: string[];
}

export interface VersionRecord {
  team: string;
  experiment: string;
  tag: string;
  version: number;
  /** manifestDigest(): identifies the content. */
  digest: string;
  /** sha256 of the stored manifest JSON (a blob in the team's namespace). */
  manifestSha256: string;
  files: number;
  bytes: number;
  stats: CaptureStats;
  createdBy: string;
  createdAt: string;
}

export interface VersionWithManifest extends VersionRecord {
  manifest: Manifest;
}

/**
 * What a worker or job token is bound to. A worker token acts for one team and one queue; a job token for one
 * attempt of one experiment (write its artifacts, read the versions it reuses, heartbeat and finalize it).
 */
export interface TokenBinding {
  team: string;
  queue?: string | undefined;
  experiment?: string | undefined;
  attempt?: number | undefined;
  /** The job instance (its queuedAt): a key queued again after a delete is another job, which this token cannot touch. */
  queuedAt?: string | undefined;
  /** Artifact versions of other experiments a job token may read (its resolved --reuse lineage). */
  reads?: { experiment: string; tag: string; version: number }[] | undefined;
}

export type TokenKind = 'personal' | 'worker' | 'job';

/** A token as its owner and the API see it: everything the backend stores except the secret's hash. */
export interface TokenInfo {
  id: string;
  userId: string;
  kind: TokenKind;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
  /** Worker and job tokens only; personal tokens act with their owner's memberships. */
  binding?: TokenBinding | null;
  /** Free text shown by `token list` (e.g. "worker gpu-box-3"). */
  label?: string | null;
}

/**
 * An authenticated caller. `teams` is the role the caller may exercise per team: the membership role capped by the
 * token's scopes (`read` -> viewer, `write` -> editor, `*` -> admin). Worker and job tokens have no team roles:
 * they act only through `binding` (core/authz.ts).
 */
export interface Principal {
  userId: string;
  tokenId: string;
  kind: TokenKind | 'firebase';
  scopes: string[];
  teams: Record<string, Role>;
  binding?: TokenBinding | null;
  /** When the credential stops being valid (ISO time; null: never). */
  expiresAt?: string | null;
}

/** A team: owns experiments, blobs and its audit log; members hold `viewer < editor < admin`. */
export interface TeamRecord {
  id: string;
  /** The user who created it (its first admin). */
  createdBy: string;
  createdAt: string;
}

export const AUDIT_ACTIONS = [
  'team.create',
  'member.add',
  'member.update',
  'member.remove',
  'token.create',
  'token.revoke',
  'experiment.delete',
  'experiment.push',
  'download.sign',
  'blobs.gc',
  'alias.set',
  'alias.move',
  'alias.delete',
  'retention.set',
  'retention.clear',
  'retention.apply',
] as const;
export type AuditAction = (typeof AUDIT_ACTIONS)[number];

/** What a retention policy keeps (core/retention-rules.ts); null = the rule is off. */
export interface RetentionRules {
  keepLast: number | null;
  keepEvery: number | null;
  keepWithinHours: number | null;
  keepHourly: number | null;
  keepDaily: number | null;
  /** Experiments that ended more than this many days ago are deleted (with their versions). */
  expireDays: number | null;
}

/** A team's policy (project null) or one project's, which replaces the team's for that project. */
export interface RetentionPolicy extends RetentionRules {
  team: string;
  project: string | null;
  updatedAt: string;
  updatedBy: string;
}

/** One append-only audit record: who (actor), what (action on target, details), when (at). Never a secret. */
export interface AuditEntry {
  /** Sortable by time (core/audit.ts newAuditId): a later entry has a larger id. */
  id: string;
  team: string;
  at: string;
  actor: { userId: string; tokenId: string; kind: Principal['kind'] };
  action: AuditAction;
  /** What was acted on: a team id, user id, token id, experiment key or `exp/tag@version`. */
  target: string;
  details: Record<string, unknown>;
}
