import {
  type AliasChangeResponse,
  type ApplyRetentionBody,
  type CommitVersionBody,
  type CommitVersionResponse,
  type CompleteJobBody,
  type CreateExperimentBody,
  type CreateExperimentResponse,
  type CreateTeamBody,
  type CreateTeamResponse,
  type CreateTokenBody,
  type CreateTokenResponse,
  type DeleteExperimentResponse,
  type DownloadBody,
  type DownloadResponse,
  type ErrorBody,
  type FinishExperimentBody,
  type GcBody,
  type GcResponse,
  type GetVersionResponse,
  type HeartbeatExperimentBody,
  type HeartbeatExperimentResponse,
  isErrorCode,
  type JobRecord,
  type LeaseBody,
  type LeaseResult,
  type ListAliasesResponse,
  type ListAuditResponse,
  type ListExperimentsResponse,
  type ListMembersResponse,
  type ListRetentionResponse,
  type ListTeamsResponse,
  type ListTokensResponse,
  type PlanUploadBody,
  type PlanUploadResponse,
  type PushBeginBody,
  type PushBeginResponse,
  type PushCompleteBody,
  type PushVersionBody,
  type RegisterPackBody,
  type RegisterPackResponse,
  type RemoveMemberResponse,
  type RetentionPolicyResponse,
  type RetentionReport,
  type RevokeTokenResponse,
  type SetAliasBody,
  type SetMemberBody,
  type SetMemberResponse,
  type SetRetentionBody,
  type ShowExperimentResponse,
  type StopJobBody,
  StudioError,
  type SubmitJobBody,
  type WhoAmIResponse,
  type WorkerTokenBody,
} from '@studio-lite/functions/contract';

/** A bearer token that can change during a command (a Firebase sign-in, refreshed before it expires). */
export interface TokenSource {
  /** The current token, refreshed first when it is about to expire. */
  get(): Promise<string>;
  /** A new token now. */
  refresh(): Promise<string>;
}

/** Typed client of the v1 HTTP API; the CLI speaks only this, to the local host or to a deployment. */
export class ApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly token: string | TokenSource,
    private readonly team: string | null = null,
    /** The transport: global fetch, or the in-process handler of the embedded backend (connect.ts). */
    private readonly send: (url: string, init: RequestInit) => Promise<Response> = fetch,
    /**
     * The embedded backend's storage host (connect.ts): the key that lets this process upload a blob by naming its
     * file, once the host runs (null before, and for a deployment).
     */
    readonly localSource: () => string | null = () => null,
  ) {}

  /** The same API through the same transport, as another principal (a worker's job token). */
  as(token: string, team: string | null): ApiClient {
    return new ApiClient(this.baseUrl, token, team, this.send, this.localSource);
  }

  whoami(): Promise<WhoAmIResponse> {
    return this.call('GET', '/v1/whoami');
  }

  createExperiment(body: CreateExperimentBody): Promise<CreateExperimentResponse> {
    return this.call('POST', '/v1/experiments', body);
  }

  listExperiments(
    q: { project?: string | undefined; limit?: number | undefined; cursor?: string | undefined } = {},
  ): Promise<ListExperimentsResponse> {
    const params = new URLSearchParams();
    if (q.project) params.set('project', q.project);
    if (q.limit) params.set('limit', String(q.limit));
    if (q.cursor) params.set('cursor', q.cursor);
    const qs = params.toString();
    return this.call('GET', `/v1/experiments${qs ? `?${qs}` : ''}`);
  }

  showExperiment(key: string): Promise<ShowExperimentResponse> {
    return this.call('GET', `/v1/experiments/${enc(key)}`);
  }

  finishExperiment(
    key: string,
    body: FinishExperimentBody,
  ): Promise<{ experiment: ShowExperimentResponse['experiment'] }> {
    return this.call('POST', `/v1/experiments/${enc(key)}/finish`, body);
  }

  /** Renews a direct run's lease; E_LEASE_LOST once another attempt took the experiment over. */
  heartbeatExperiment(key: string, body: HeartbeatExperimentBody): Promise<HeartbeatExperimentResponse> {
    return this.call('POST', `/v1/experiments/${enc(key)}/heartbeat`, body);
  }

  planUpload(key: string, tag: string, body: PlanUploadBody): Promise<PlanUploadResponse> {
    return this.call('POST', `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/uploads`, body);
  }

  commitVersion(key: string, tag: string, body: CommitVersionBody): Promise<CommitVersionResponse> {
    return this.call('POST', `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/versions`, body);
  }

  listRetention(): Promise<ListRetentionResponse> {
    return this.call('GET', '/v1/retention');
  }

  setRetention(body: SetRetentionBody): Promise<RetentionPolicyResponse> {
    return this.call('PUT', '/v1/retention', body);
  }

  clearRetention(project: string | null): Promise<RetentionPolicyResponse> {
    return this.call('DELETE', `/v1/retention${project ? `?project=${encodeURIComponent(project)}` : ''}`);
  }

  applyRetention(body: ApplyRetentionBody): Promise<RetentionReport> {
    return this.call('POST', '/v1/retention/apply', body);
  }

  /** Opens (creates, or reopens one of the same history) an experiment here for a push (core/push.ts). */
  pushBegin(key: string, body: PushBeginBody): Promise<PushBeginResponse> {
    return this.call('PUT', `/v1/experiments/${enc(key)}/push`, body);
  }

  /** One version of a push, with its number, creator and time. */
  pushVersion(key: string, body: PushVersionBody): Promise<CommitVersionResponse> {
    return this.call('POST', `/v1/experiments/${enc(key)}/push/versions`, body);
  }

  /** Closes a push with the source's record. */
  pushComplete(key: string, body: PushCompleteBody): Promise<{ experiment: ShowExperimentResponse['experiment'] }> {
    return this.call('POST', `/v1/experiments/${enc(key)}/push/complete`, body);
  }

  /** `version`: a number, `latest` or an alias name (the server resolves it). */
  getVersion(key: string, tag: string, version: number | string): Promise<GetVersionResponse> {
    return this.call('GET', `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/versions/${enc(String(version))}`);
  }

  listAliases(key: string, tag: string): Promise<ListAliasesResponse> {
    return this.call('GET', `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/aliases`);
  }

  setAlias(key: string, tag: string, name: string, body: SetAliasBody): Promise<AliasChangeResponse> {
    return this.call('PUT', `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/aliases/${enc(name)}`, body);
  }

  deleteAlias(key: string, tag: string, name: string): Promise<AliasChangeResponse> {
    return this.call('DELETE', `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/aliases/${enc(name)}`);
  }

  registerPack(key: string, tag: string, body: RegisterPackBody): Promise<RegisterPackResponse> {
    return this.call('POST', `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/packs`, body);
  }

  signDownloads(key: string, tag: string, version: number, body: DownloadBody): Promise<DownloadResponse> {
    return this.call('POST', `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/versions/${version}/downloads`, body);
  }

  createToken(body: CreateTokenBody): Promise<CreateTokenResponse> {
    return this.call('POST', '/v1/tokens', body);
  }

  /** The caller's own tokens, or with `team` the worker and job tokens of that team (its admins). */
  listTokens(team?: string): Promise<ListTokensResponse> {
    return this.call('GET', team ? `/v1/tokens?team=${enc(team)}` : '/v1/tokens');
  }

  revokeToken(id: string): Promise<RevokeTokenResponse> {
    return this.call('DELETE', `/v1/tokens/${enc(id)}`);
  }

  createTeam(id: string): Promise<CreateTeamResponse> {
    return this.call('POST', '/v1/teams', { id } satisfies CreateTeamBody);
  }

  listTeams(): Promise<ListTeamsResponse> {
    return this.call('GET', '/v1/teams');
  }

  listMembers(team: string): Promise<ListMembersResponse> {
    return this.call('GET', `/v1/teams/${enc(team)}/members`);
  }

  setMember(team: string, user: string, body: SetMemberBody): Promise<SetMemberResponse> {
    return this.call('PUT', `/v1/teams/${enc(team)}/members/${enc(user)}`, body);
  }

  removeMember(team: string, user: string): Promise<RemoveMemberResponse> {
    return this.call('DELETE', `/v1/teams/${enc(team)}/members/${enc(user)}`);
  }

  listAudit(q: { limit?: number; before?: string; action?: string } = {}): Promise<ListAuditResponse> {
    const params = new URLSearchParams();
    if (q.limit !== undefined) params.set('limit', String(q.limit));
    if (q.before) params.set('before', q.before);
    if (q.action) params.set('action', q.action);
    const qs = params.toString();
    return this.call('GET', `/v1/audit${qs ? `?${qs}` : ''}`);
  }

  deleteExperiment(key: string, force: boolean): Promise<DeleteExperimentResponse> {
    return this.call('DELETE', `/v1/experiments/${enc(key)}${force ? '?force=true' : ''}`);
  }

  /** A one-time web sign-in code (local backend; E_UNAVAILABLE on a deployment, which signs in with Google). */
  createSigninCode(): Promise<{ code: string; expiresAt: string }> {
    return this.call('POST', '/v1/ui/signin-codes', {});
  }

  /** A short-lived link to a version as .tar.gz (works without credentials until `expiresAt`). */
  archiveLink(key: string, tag: string, version: number): Promise<{ url: string; expiresAt: string }> {
    return this.call('POST', `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/versions/${version}/archive`, {});
  }

  collectGarbage(body: GcBody): Promise<GcResponse> {
    return this.call('POST', '/v1/gc', body);
  }

  submitJob(key: string, body: SubmitJobBody): Promise<{ job: JobRecord }> {
    return this.call('POST', `/v1/experiments/${enc(key)}/job`, body);
  }

  getJob(key: string): Promise<{ job: JobRecord }> {
    return this.call('GET', `/v1/experiments/${enc(key)}/job`);
  }

  stopJob(key: string, body: StopJobBody): Promise<{ job: JobRecord }> {
    return this.call('POST', `/v1/experiments/${enc(key)}/stop`, body);
  }

  listJobs(q: { queue?: string; status?: string[]; limit?: number } = {}): Promise<{ jobs: JobRecord[] }> {
    const params = new URLSearchParams();
    if (q.queue) params.set('queue', q.queue);
    if (q.status?.length) params.set('status', q.status.join(','));
    if (q.limit) params.set('limit', String(q.limit));
    const qs = params.toString();
    return this.call('GET', `/v1/jobs${qs ? `?${qs}` : ''}`);
  }

  lease(queue: string, body: LeaseBody): Promise<{ lease: LeaseResult | null }> {
    return this.call('POST', `/v1/queues/${enc(queue)}/lease`, body);
  }

  heartbeat(id: string): Promise<{ leaseExpiresAt: string; stop: 'stop' | 'kill' | null; stopReason: string | null }> {
    return this.call('POST', `/v1/jobs/${enc(id)}/heartbeat`, {});
  }

  completeJob(id: string, body: CompleteJobBody): Promise<{ job: JobRecord }> {
    return this.call('POST', `/v1/jobs/${enc(id)}/complete`, body);
  }

  createWorkerToken(body: WorkerTokenBody): Promise<CreateTokenResponse> {
    return this.call('POST', '/v1/worker-tokens', body);
  }

  private async call<T>(method: string, path: string, body?: unknown, retried = false): Promise<T> {
    const token = typeof this.token === 'string' ? this.token : await this.token.get();
    let res: Response;
    try {
      res = await this.send(this.baseUrl + path, {
        method,
        headers: {
          authorization: `Bearer ${token}`,
          ...(this.team ? { 'x-studio-team': this.team } : {}),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (cause) {
      throw new StudioError('E_UNAVAILABLE', `cannot reach the studio-lite API at ${this.baseUrl}`, { cause });
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : {};
    } catch (cause) {
      throw new StudioError('E_INTERNAL', `API answered ${res.status} with a body that is not JSON`, { cause });
    }
    if (!res.ok) {
      const err = (json as Partial<ErrorBody>).error;
      const code = isErrorCode(err?.code) ? err.code : 'E_INTERNAL';
      // A sign-in that lapsed between our expiry check and the server's (clock skew): refresh once, send again.
      // Safe for every method: an unauthenticated request was refused before anything happened.
      if (code === 'E_TOKEN_EXPIRED' && !retried && typeof this.token !== 'string') {
        await this.token.refresh();
        return this.call(method, path, body, true);
      }
      throw new StudioError(code, err?.message ?? `API answered ${res.status}`, {
        details: { status: res.status, ...err?.details },
      });
    }
    return json as T;
  }
}

const enc = encodeURIComponent;
