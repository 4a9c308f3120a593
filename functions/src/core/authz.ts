import { StudioError } from '../contract/errors.ts';
import { type ExperimentRecord, type Principal, ROLE_RANK, type Role } from '../contract/model.ts';

/**
 * Authorization, in one place. Personal tokens and Firebase sign-ins act with their memberships (capped by the
 * token's scopes, see scopeCap); worker and job tokens have no team role and act only through their binding.
 */

/** The highest role a personal token's scopes allow: `read` -> viewer, `write` -> editor, `*` -> admin. */
export function scopeCap(scopes: readonly string[]): Role | null {
  if (scopes.includes('*')) return 'admin';
  if (scopes.includes('write')) return 'editor';
  if (scopes.includes('read')) return 'viewer';
  return null;
}

/** Memberships capped by a scope cap (roles above the cap are lowered to it; no cap means no role). */
export function capRoles(teams: Record<string, Role>, cap: Role | null): Record<string, Role> {
  const out: Record<string, Role> = {};
  if (!cap) return out;
  for (const [team, role] of Object.entries(teams)) out[team] = ROLE_RANK[role] <= ROLE_RANK[cap] ? role : cap;
  return out;
}

/** True for credentials that stand for a person (a personal token or a Firebase sign-in). */
export function isUserCredential(p: Principal): boolean {
  return p.kind === 'personal' || p.kind === 'firebase';
}

/** The caller's team: the one asked for, or their only team. Throws E_FORBIDDEN / E_BAD_REQUEST. */
export function resolveTeam(principal: Principal, asked: string | null): string {
  if (principal.binding) {
    const bound = principal.binding.team;
    if (asked && asked.toLowerCase() !== bound.toLowerCase())
      throw new StudioError('E_FORBIDDEN', `this ${principal.kind} token is for another team`);
    return bound;
  }
  const teams = Object.keys(principal.teams);
  if (asked) {
    // Team names are case-insensitive (names.ts canonicalTeamId): any spelling reaches the one team.
    const team = teams.find((t) => t.toLowerCase() === asked.toLowerCase());
    if (!team) {
      // details.team: the caller named a team they are not in (their input, which a client may report as such).
      throw new StudioError('E_FORBIDDEN', `not a member of team ${asked}`, { details: { team: asked } });
    }
    return team;
  }
  if (teams.length === 1) return teams[0] as string;
  if (teams.length === 0) throw new StudioError('E_FORBIDDEN', 'you are not a member of any team');
  throw new StudioError('E_BAD_REQUEST', `you are in several teams (${teams.join(', ')}): choose one with --team`, {
    details: { teams },
  });
}

/** Throws E_FORBIDDEN unless the principal holds at least `need` on `team` (worker/job tokens never do). */
export function requireRole(principal: Principal, team: string, need: Role): void {
  const has = principal.teams[team];
  if (!has || ROLE_RANK[has] < ROLE_RANK[need]) {
    const who = principal.binding ? `a ${principal.kind} token` : 'this';
    throw new StudioError('E_FORBIDDEN', `${who} needs the ${need} role on team ${team}`);
  }
}

/** A job token bound to exactly this experiment (any attempt check is the caller's). */
function isJobFor(p: Principal, team: string, experiment: string): boolean {
  return p.kind === 'job' && p.binding?.team === team && p.binding.experiment === experiment;
}

/** Writing an experiment's artifacts: an editor, or the job token of that experiment. */
export function requireExperimentWrite(p: Principal, team: string, experiment: string): void {
  if (isJobFor(p, team, experiment)) return;
  requireRole(p, team, 'editor');
}

/** Reading an experiment's record: a viewer, or the job token of that experiment. */
export function requireExperimentRead(p: Principal, team: string, experiment: string): void {
  if (isJobFor(p, team, experiment)) return;
  requireRole(p, team, 'viewer');
}

/**
 * Reading one artifact version: a viewer; a job token for its own experiment, or for a version listed in its
 * binding's reads (the lineage resolved when the job was queued). `version` undefined means "latest", which a job
 * token may only resolve for its own experiment.
 */
export function requireArtifactRead(
  p: Principal,
  team: string,
  experiment: string,
  tag: string,
  version: number | undefined,
): void {
  if (isJobFor(p, team, experiment)) return;
  if (p.kind === 'job' && p.binding?.team === team && version !== undefined) {
    if (p.binding.reads?.some((r) => r.experiment === experiment && r.tag === tag && r.version === version)) return;
  }
  requireRole(p, team, 'viewer');
}

/** Leasing jobs from a queue: that queue's worker token, or an editor (someone running a worker as themself). */
export function requireQueueWorker(p: Principal, team: string, queue: string): void {
  if (p.kind === 'worker' && p.binding?.team === team && p.binding.queue === queue) return;
  requireRole(p, team, 'editor');
}

/** Token management, team administration and audit reads need a person, never a worker or job token. */
export function requireUserCredential(p: Principal, what: string): void {
  if (!isUserCredential(p)) {
    throw new StudioError('E_FORBIDDEN', `a ${p.kind} token cannot ${what}; use your own sign-in or personal token`);
  }
}

/**
 * Scopes mean what they say: a `read` personal token never changes anything, its owner's own tokens and memberships
 * included (E_FORBIDDEN). Firebase sign-ins and `write`/`*` tokens pass.
 */
export function requireWriteScope(p: Principal, what: string): void {
  if (p.kind === 'personal' && ROLE_RANK[scopeCap(p.scopes) ?? 'viewer'] < ROLE_RANK.editor) {
    throw new StudioError('E_FORBIDDEN', `a read-only token cannot ${what}`);
  }
}

/**
 * Changing an experiment beyond its artifacts (deleting it, pushing over it): a team admin, or the user answerable for
 * it here: its owner, or for a pushed experiment its pusher (a pushed record's `owner` is only what the source said).
 */
export function requireAnswerable(
  p: Principal,
  team: string,
  exp: Pick<ExperimentRecord, 'key' | 'owner' | 'push'>,
  what: string,
): void {
  const owner = exp.push ? exp.push.by : exp.owner;
  if (p.teams[team] === 'admin' || owner === p.userId) return;
  throw new StudioError(
    'E_FORBIDDEN',
    `only its ${exp.push ? 'pusher' : 'owner'} (${owner}) or a team admin can ${what} ${exp.key}`,
  );
}
