import { StudioError } from '../contract/errors.ts';
import { auditActionParam, createTeamBody, gcBody, setMemberBody } from '../contract/schemas.ts';
import type {
  CreateTeamResponse,
  DeleteExperimentResponse,
  GcResponse,
  ListAuditResponse,
  ListMembersResponse,
  ListTeamsResponse,
  RemoveMemberResponse,
  SetMemberResponse,
} from '../contract/wire.ts';
import { listAudit } from '../core/audit.ts';
import { deleteExperiment } from '../core/experiment-delete.ts';
import { collectGarbage } from '../core/gc.ts';
import { createTeam, listMembers, listMyTeams, removeMember, setMember } from '../core/teams.ts';
import { json } from './respond.ts';
import { type Ctx, EXP, p, type Route, readBody, SEG } from './route-kit.ts';

const TEAM = `/v1/teams/${SEG}`;

/** A boolean query flag: absent or `false` -> false, `true` -> true, anything else E_BAD_REQUEST. */
function flag(c: Ctx, name: string): boolean {
  const v = c.url.searchParams.get(name);
  if (v === null || v === 'false') return false;
  if (v === 'true') return true;
  throw new StudioError('E_BAD_REQUEST', `${name} must be true or false`);
}

function auditQuery(c: Ctx) {
  const q = c.url.searchParams;
  let limit: number | undefined;
  if (q.has('limit')) {
    limit = Number(q.get('limit'));
    if (!Number.isSafeInteger(limit)) throw new StudioError('E_BAD_REQUEST', 'limit must be an integer');
  }
  let action: ReturnType<typeof auditActionParam.parse> | undefined;
  if (q.has('action')) {
    const r = auditActionParam.safeParse(q.get('action'));
    if (!r.success) {
      throw new StudioError(
        'E_BAD_REQUEST',
        `unknown action "${q.get('action')}" (${auditActionParam.options.join(', ')})`,
      );
    }
    action = r.data;
  }
  return { limit, before: q.get('before') ?? undefined, action };
}

/**
 * Teams, members, the audit log and experiment deletion (issue 4; docs/api.md). Team routes name their team in the
 * path (`team: false`: X-Studio-Team is not consulted); audit and delete act in the resolved team.
 */
export const TEAM_ROUTES: Route[] = [
  {
    method: 'POST',
    pattern: /^\/v1\/teams$/,
    team: false,
    run: async (c) => {
      const body = await readBody(c.req, createTeamBody);
      const r: CreateTeamResponse = { team: await createTeam(c.deps, c.principal, body.id) };
      return json(201, r);
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/teams$/,
    team: false,
    run: async (c) => {
      const r: ListTeamsResponse = { teams: await listMyTeams(c.deps, c.principal) };
      return json(200, r);
    },
  },
  {
    method: 'GET',
    pattern: new RegExp(`^${TEAM}/members$`),
    team: false,
    run: async (c) => {
      const r: ListMembersResponse = { team: p(c, 0), members: await listMembers(c.deps, c.principal, p(c, 0)) };
      return json(200, r);
    },
  },
  {
    method: 'PUT',
    pattern: new RegExp(`^${TEAM}/members/${SEG}$`),
    team: false,
    run: async (c) => {
      const body = await readBody(c.req, setMemberBody);
      const out = await setMember(c.deps, c.principal, p(c, 0), p(c, 1), body.role);
      const r: SetMemberResponse = { team: p(c, 0), ...out };
      return json(out.changed && out.previousRole === null ? 201 : 200, r);
    },
  },
  {
    method: 'DELETE',
    pattern: new RegExp(`^${TEAM}/members/${SEG}$`),
    team: false,
    run: async (c) => {
      const r: RemoveMemberResponse = { team: p(c, 0), ...(await removeMember(c.deps, c.principal, p(c, 0), p(c, 1))) };
      return json(200, r);
    },
  },
  {
    method: 'GET',
    pattern: /^\/v1\/audit$/,
    run: async (c) => {
      const r: ListAuditResponse = {
        team: c.team,
        entries: await listAudit(c.deps, c.principal, c.team, auditQuery(c)),
      };
      return json(200, r);
    },
  },
  {
    method: 'POST',
    pattern: /^\/v1\/gc$/,
    run: async (c) => {
      const body = await readBody(c.req, gcBody);
      const r: GcResponse = { gc: await collectGarbage(c.deps, c.principal, c.team, body) };
      return json(200, r);
    },
  },
  {
    method: 'DELETE',
    pattern: new RegExp(`^${EXP}$`),
    run: async (c) => {
      const force = flag(c, 'force');
      const r: DeleteExperimentResponse = {
        deleted: await deleteExperiment(c.deps, c.principal, c.team, p(c, 0), force),
      };
      return json(200, r);
    },
  },
];
