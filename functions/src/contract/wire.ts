import type { ErrorCode } from './errors.ts';
import type {
  ArtifactRecord,
  AuditEntry,
  ExperimentRecord,
  LineageEntry,
  Principal,
  RetentionPolicy,
  Role,
  TeamRecord,
  TokenInfo,
  VersionRecord,
  VersionWithManifest,
} from './model.ts';
import type { AliasChange, AliasView, DeleteExperimentResult, GcReport, MemberInfo, MyTeam } from './results.ts';
import type { ResumableStartRequest, SignedRequest } from './transfer.ts';

/**
 * Response bodies of the v1 API (see docs/api.md). Routes:
 *   GET  /v1/whoami                                                    -> WhoAmIResponse
 *   POST /v1/experiments                                               -> 201 CreateExperimentResponse
 *   GET  /v1/experiments?project&status&owner&q&limit&cursor           -> ListExperimentsResponse
 *   GET  /v1/experiments/:key                                          -> ShowExperimentResponse
 *   POST /v1/experiments/:key/finish                                   -> { experiment }
 *   POST /v1/experiments/:key/heartbeat                                -> HeartbeatExperimentResponse
 *   POST /v1/experiments/:key/artifacts/:tag/uploads                   -> PlanUploadResponse
 *   POST /v1/experiments/:key/artifacts/:tag/packs                     -> RegisterPackResponse
 *   POST /v1/experiments/:key/artifacts/:tag/versions                  -> 201|200 CommitVersionResponse
 *   GET  /v1/experiments/:key/artifacts/:tag/versions/:v (N|latest|alias) -> { version: VersionWithManifest }
 *   POST /v1/experiments/:key/artifacts/:tag/versions/:v/downloads     -> DownloadResponse
 *   GET    /v1/retention                                               -> ListRetentionResponse
 *   PUT    /v1/retention  SetRetentionBody                              -> RetentionPolicyResponse
 *   DELETE /v1/retention?project=P                                     -> RetentionPolicyResponse (policy null: none)
 *   POST   /v1/retention/apply  ApplyRetentionBody                      -> RetentionReport
 *   PUT  /v1/experiments/:key/push            PushBeginBody             -> 201|200 PushBeginResponse
 *   POST /v1/experiments/:key/push/versions   PushVersionBody           -> 201|200 CommitVersionResponse
 *   POST /v1/experiments/:key/push/complete   PushCompleteBody          -> { experiment }
 *   GET    /v1/experiments/:key/artifacts/:tag/aliases                 -> ListAliasesResponse
 *   PUT    /v1/experiments/:key/artifacts/:tag/aliases/:name  SetAliasBody -> 201|200 AliasChangeResponse
 *   DELETE /v1/experiments/:key/artifacts/:tag/aliases/:name          -> AliasChangeResponse
 *   POST   /v1/tokens                                                  -> 201 CreateTokenResponse
 *   GET    /v1/tokens                                                  -> ListTokensResponse
 *   DELETE /v1/tokens/:id                                              -> RevokeTokenResponse
 *   POST   /v1/teams                                                   -> 201 CreateTeamResponse
 *   GET    /v1/teams                                                   -> ListTeamsResponse
 *   GET    /v1/teams/:team/members                                     -> ListMembersResponse
 *   PUT    /v1/teams/:team/members/:user (id or email)                 -> 201|200 SetMemberResponse
 *   DELETE /v1/teams/:team/members/:user (id or email)                 -> RemoveMemberResponse
 *   GET    /v1/audit?limit=N&before=ID|ISO&action=A                    -> ListAuditResponse
 *   DELETE /v1/experiments/:key?force=true                             -> DeleteExperimentResponse
 *   POST   /v1/gc  GcBody                                              -> GcResponse
 *   GET    /v1/auth/config (no credential)                             -> AuthConfig (contract/auth-config.ts)
 * Errors: ErrorBody with the status from error-table.ts.
 */

export interface ErrorBody {
  error: { code: ErrorCode; message: string; details?: Record<string, unknown> };
}

export interface WhoAmIResponse {
  principal: Principal;
  /** The team requests act in; null when no team was asked for and the caller is in none or several. */
  team: string | null;
}

export interface CreateExperimentResponse {
  experiment: ExperimentRecord;
  /** Resolved reuse versions, in request order. */
  lineage: LineageEntry[];
  resumed: boolean;
  /** The run's lease; the client renews it (POST …/heartbeat) well within this many seconds. */
  leaseSeconds: number;
}

export interface HeartbeatExperimentResponse {
  status: ExperimentRecord['status'];
  leaseExpiresAt: string | null;
  leaseSeconds: number;
}

export interface ExperimentSummary extends ExperimentRecord {
  artifacts: { tag: string; mutable: boolean; latestVersion: number }[];
}

export interface ListExperimentsResponse {
  /** Newest first; at most `limit` (default 1000). */
  experiments: ExperimentSummary[];
  /** Pass as `cursor` for the next page; null at the end. */
  nextCursor: string | null;
}

export interface ShowExperimentResponse {
  experiment: ExperimentRecord;
  /** `aliases`: the artifact's version aliases by name (absent from servers older than aliases). */
  artifacts: (ArtifactRecord & { versions: VersionRecord[]; aliases?: AliasView[] })[];
}

export interface PlanUploadResponse {
  /**
   * Blobs to upload one by one. `resumable` (large blobs, stores with resumable sessions): a POST that opens a session
   * to upload the same object in chunks and resume after an interruption; `request` stays for clients that ignore it.
   */
  uploads: { sha256: string; size: number; request: SignedRequest; resumable?: ResumableStartRequest }[];
  /**
   * Small blobs to upload as one pack: the members' bytes concatenated in this order, PUT with `request`, then
   * registered (`POST …/artifacts/:tag/packs` with `id`, `nonce` and `members`), which records where each member
   * lives. A member is present for commits only once its pack is registered.
   */
  packs: PlannedPack[];
  /** How many of the requested blobs the team already has. */
  present: number;
}

export interface CommitVersionResponse {
  version: VersionRecord;
  created: boolean;
}

export interface ListRetentionResponse {
  policies: RetentionPolicy[];
}

export interface RetentionPolicyResponse {
  policy: RetentionPolicy | null;
}

export interface PushBeginResponse {
  experiment: ExperimentRecord;
  /** True when this push created the experiment here. */
  created: boolean;
}

export interface GetVersionResponse {
  version: VersionWithManifest;
}

export interface PlannedPack {
  id: string;
  /** Random, chosen by the server: `id` is sha256(nonce, members), so a registration names exactly what was signed. */
  nonce: string;
  members: { sha256: string; size: number }[];
  request: SignedRequest;
}

export interface RegisterPackResponse {
  id: string;
  /** How many members the pack holds (each is now present for commits, here or where it was recorded before). */
  members: number;
}

export interface DownloadResponse {
  /** Blobs stored as objects of their own: one GET each. */
  blobs: { sha256: string; size: number; request: SignedRequest }[];
  /**
   * Blobs stored inside packs: `request` is a GET of the pack, which the client sends with `Range: bytes=a-b` for
   * the members it wants (coalescing neighbours into one range); `offset` is each member's first byte.
   */
  packs?: { id: string; request: SignedRequest; members: { sha256: string; size: number; offset: number }[] }[];
}

export interface CreateTokenResponse {
  /** The bearer secret; shown this once, only its sha256 is stored. */
  secret: string;
  token: TokenInfo;
}

export interface ListTokensResponse {
  /** The caller's own tokens, newest first, revoked and expired included. */
  tokens: TokenInfo[];
}

export interface RevokeTokenResponse {
  token: TokenInfo;
}

export interface CreateTeamResponse {
  team: TeamRecord;
}

export interface ListTeamsResponse {
  /** The caller's teams by id: membership role, and the role this credential may exercise (scopes cap it). */
  teams: MyTeam[];
}

export interface ListMembersResponse {
  team: string;
  members: MemberInfo[];
}

export interface SetMemberResponse {
  team: string;
  member: MemberInfo;
  previousRole: Role | null;
  /** False when the member already had this role (nothing written, nothing audited). */
  changed: boolean;
}

export interface RemoveMemberResponse {
  team: string;
  userId: string;
  previousRole: Role;
}

export interface ListAuditResponse {
  team: string;
  /** Newest first; pass the last id as `before` for the next page. */
  entries: AuditEntry[];
}

export interface GcResponse {
  gc: GcReport;
}

export interface ListAliasesResponse {
  experiment: string;
  tag: string;
  aliases: AliasView[];
}

/** `from`/`to`: the version before and after (null: no alias); 201 when the alias is new. */
export interface AliasChangeResponse {
  alias: AliasChange;
}

export interface DeleteExperimentResponse {
  deleted: DeleteExperimentResult;
}
