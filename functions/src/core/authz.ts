import { StudioError } from './errors.ts';
import { type Principal, ROLE_RANK, type Role } from './model.ts';

/** The caller's team: the one asked for, or their only team. Throws E_FORBIDDEN / E_BAD_REQUEST. */
export function resolveTeam(principal: Principal, asked: string | null): string {
  const teams = Object.keys(principal.teams);
  if (asked) {
    if (!principal.teams[asked]) throw new StudioError('E_FORBIDDEN', `not a member of team ${asked}`);
    return asked;
  }
  if (teams.length === 1) return teams[0] as string;
  if (teams.length === 0) throw new StudioError('E_FORBIDDEN', 'you are not a member of any team');
  throw new StudioError('E_BAD_REQUEST', `you are in several teams (${teams.join(', ')}): choose one with --team`);
}

/** Throws E_FORBIDDEN unless the principal holds at least `need` on `team`. */
export function requireRole(principal: Principal, team: string, need: Role): void {
  const has = principal.teams[team];
  if (!has || ROLE_RANK[has] < ROLE_RANK[need]) {
    throw new StudioError('E_FORBIDDEN', `this needs the ${need} role on team ${team}`);
  }
}
