import { StudioError } from '../contract/errors.ts';
import type { Principal } from '../contract/model.ts';
import { noSpace } from '../contract/no-space.ts';
import {
  commitVersionBody,
  createExperimentBody,
  createTokenBody,
  downloadBody,
  finishExperimentBody,
  heartbeatExperimentBody,
  planUploadBody,
  pushBeginBody,
  pushCompleteBody,
  pushVersionBody,
  registerPackBody,
} from '../contract/schemas.ts';
import { resolveVersion } from '../core/aliases.ts';
import { commitVersion, getVersion, planUpload, registerArtifactPack, signDownloads } from '../core/artifacts.ts';
import { resolveTeam } from '../core/authz.ts';
import type { CoreDeps } from '../core/context.ts';
import { listExperimentPage } from '../core/experiment-list.ts';
import { createExperiment, finishExperiment, heartbeatExperiment, showExperiment } from '../core/experiments.ts';
import { requireLiveJob } from '../core/jobs.ts';
import { beginPush, completePush, pushVersion } from '../core/push.ts';
import { createToken, listTeamTokens, listTokens, revokeToken } from '../core/token-admin.ts';
import { ALIAS_ROUTES } from './alias-routes.ts';
import { AUTH_ROUTES } from './auth-routes.ts';
import { experimentPageQuery } from './experiment-query.ts';
import { JOB_ROUTES } from './job-routes.ts';
import { errorResponse, json } from './respond.ts';
import { RETENTION_ROUTES } from './retention-routes.ts';
import { ART, decodeSegment, EXP, MAX_BODY_BYTES, p, type Route, readBody, SEG, versionParam } from './route-kit.ts';
import { TEAM_ROUTES } from './team-routes.ts';
import { UI_ROUTES } from './ui-routes.ts';
import { sessionBearer } from './ui-session.ts';

export const CORE_ROUTES: Route[] = [
  {
    method: 'GET',
    pattern: /^\/v1\/whoami$/,
    team: false,
    run: async (c) => {
      // Someone who just signed in may be in no team yet (or in several): without a header they still learn who
      // they are, with team null. A team asked for is checked as on every other route.
      const asked = c.req.headers.get('x-studio-team');
      const single = Object.keys(c.principal.teams).length === 1;
      const team = asked || c.principal.binding || single ? resolveTeam(c.principal, asked) : null;
      return json(200, { principal: c.principal, team });
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/experiments$/,
    run: async (c) => {
      const body = await readBody(c.req, createExperimentBody);
      const r = await createExperiment(c.deps, c.principal, c.team, body);
      return json(r.resumed ? 200 : 201, r);
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/experiments$/,
    run: async (c) => {
      return json(200, await listExperimentPage(c.deps, c.principal, c.team, experimentPageQuery(c.url)));
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${EXP}$`),
    run: async (c) => json(200, await showExperiment(c.deps, c.principal, c.team, p(c, 0))),
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${EXP}/finish$`),
    run: async (c) => {
      const body = await readBody(c.req, finishExperimentBody);
      return json(200, { experiment: await finishExperiment(c.deps, c.principal, c.team, p(c, 0), body) });
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${EXP}/heartbeat$`),
    run: async (c) => {
      const body = await readBody(c.req, heartbeatExperimentBody);
      return json(200, await heartbeatExperiment(c.deps, c.principal, c.team, p(c, 0), body));
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${ART}/uploads$`),
    run: async (c) => {
      const body = await readBody(c.req, planUploadBody);
      return json(200, await planUpload(c.deps, c.principal, c.team, p(c, 0), p(c, 1), body.blobs));
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${ART}/packs$`),
    run: async (c) => {
      const body = await readBody(c.req, registerPackBody);
      return json(200, await registerArtifactPack(c.deps, c.principal, c.team, p(c, 0), p(c, 1), body));
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${ART}/versions$`),
    run: async (c) => {
      const body = await readBody(c.req, commitVersionBody, MAX_BODY_BYTES);
      const r = await commitVersion(c.deps, c.principal, c.team, p(c, 0), p(c, 1), body);
      return json(r.created ? 201 : 200, r);
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${ART}/versions/${SEG}$`),
    run: async (c) => {
      // N, latest, or an alias (resolved like latest: a moving name for a fixed version).
      const v = await resolveVersion(c.deps, c.principal, c.team, p(c, 0), p(c, 1), p(c, 2));
      const version = await getVersion(c.deps, c.principal, c.team, p(c, 0), p(c, 1), v);
      return json(200, { version });
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${ART}/versions/${SEG}/downloads$`),
    run: async (c) => {
      const body = await readBody(c.req, downloadBody);
      const v = versionParam(p(c, 2));
      if (v === undefined) throw new StudioError('E_BAD_REQUEST', 'downloads need a fixed version, not latest');
      return json(200, await signDownloads(c.deps, c.principal, c.team, p(c, 0), p(c, 1), v, body.sha256s));
    },
  },
  {
    method: 'PUT',
    pattern: new RegExp(`^${EXP}/push$`),
    run: async (c) => {
      const r = await beginPush(c.deps, c.principal, c.team, p(c, 0), await readBody(c.req, pushBeginBody));
      return json(r.created ? 201 : 200, r);
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${EXP}/push/versions$`),
    run: async (c) => {
      const body = await readBody(c.req, pushVersionBody, MAX_BODY_BYTES);
      const r = await pushVersion(c.deps, c.principal, c.team, p(c, 0), body);
      return json(r.created ? 201 : 200, r);
    },
  },
  {
    method: 'POST',
    pattern: new RegExp(`^${EXP}/push/complete$`),
    run: async (c) =>
      json(200, await completePush(c.deps, c.principal, c.team, p(c, 0), await readBody(c.req, pushCompleteBody))),
  },
  {
    method: 'POST',
    pattern: /^\/v1\/tokens$/,
    team: false,
    run: async (c) => {
      const body = await readBody(c.req, createTokenBody);
      return json(201, await createToken(c.deps, c.principal, body));
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/tokens$/,
    team: false,
    // ?team=T: the worker and job tokens of team T (its admins); otherwise the caller's own tokens.
    run: async (c) => {
      const team = c.url.searchParams.get('team');
      const tokens = team ? await listTeamTokens(c.deps, c.principal, team) : await listTokens(c.deps, c.principal);
      return json(200, { tokens });
    },
  },
  {
    method: 'DELETE',
    pattern: new RegExp(`^/v1/tokens/${SEG}$`),
    team: false,
    run: async (c) => json(200, { token: await revokeToken(c.deps, c.principal, p(c, 0)) }),
  },
];

/** Every route, in match order. Route modules add their list here. */
const ROUTES: Route[] = [
  ...CORE_ROUTES,
  ...ALIAS_ROUTES,
  ...RETENTION_ROUTES,
  ...JOB_ROUTES,
  ...AUTH_ROUTES,
  ...TEAM_ROUTES,
  ...UI_ROUTES,
];

export interface HandlerOptions {
  log?: (msg: string, err: unknown) => void;
  /** Where a local host keeps its data: named by E_NO_SPACE when the disk fills (SQLite, blob writes). */
  dataPath?: string;
}

/** The v1 API as one function on web-standard Request/Response; hosts only adapt transport. */
export function createApiHandler(deps: CoreDeps, opts: HandlerOptions = {}): (req: Request) => Promise<Response> {
  return async (req) => {
    try {
      const url = new URL(req.url);
      let pathMatched = false;
      for (const route of ROUTES) {
        const m = route.pattern.exec(url.pathname);
        if (!m) continue;
        pathMatched = true;
        if (route.method !== req.method) continue;
        const params = m.slice(1).map(decodeSegment);
        if (route.auth === false) {
          return await route.run({ deps, principal: null as unknown as Principal, team: '', req, url, params });
        }
        // Authenticate before anything else is looked at, so an anonymous caller learns nothing.
        const auth = req.headers.get('authorization');
        const bearer = auth ? (auth.startsWith('Bearer ') ? auth.slice(7).trim() : undefined) : sessionBearer(req);
        if (auth && bearer === undefined)
          throw new StudioError('E_UNAUTHENTICATED', 'authorization must be a Bearer token');
        const principal = await deps.identity.authenticate(bearer);
        // A job token works only while its attempt holds a live lease (it "expires with the lease").
        if (principal.kind === 'job') await requireLiveJob(deps, principal);
        const team = route.team === false ? '' : resolveTeam(principal, req.headers.get('x-studio-team'));
        return await route.run({ deps, principal, team, req, url, params });
      }
      if (pathMatched) throw new StudioError('E_BAD_REQUEST', `method ${req.method} not allowed on ${url.pathname}`);
      throw new StudioError('E_NOT_FOUND', `no route ${req.method} ${url.pathname}`);
    } catch (err) {
      return errorResponse(noSpace(err, opts.dataPath ?? null, null), opts.log);
    }
  };
}
