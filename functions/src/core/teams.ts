import { StudioError } from '../contract/errors.ts';
import type { Principal, Role, TeamRecord } from '../contract/model.ts';
import { canonicalTeamId, teamIdFor } from '../contract/names.ts';
import type { MemberInfo, MyTeam } from '../contract/results.ts';
import { recordAudit } from './audit.ts';
import { requireRole, requireUserCredential, requireWriteScope } from './authz.ts';
import type { CoreDeps } from './context.ts';
import type { UserRecord } from './model.ts';
import { revokeTokensAfterRoleChange } from './token-revocation.ts';

/** Creates a team; any signed-in person may, and becomes its first admin. Throws E_BAD_KEY, E_CONFLICT. */
export async function createTeam(deps: CoreDeps, p: Principal, id: string): Promise<TeamRecord> {
  requireUserCredential(p, 'create teams');
  requireWriteScope(p, 'create teams');
  id = canonicalTeamId(id);
  // Teams made before team records existed (e.g. `local`) have members but no record: they are taken too.
  if ((await deps.meta.listTeamMembers(id)).length > 0) {
    throw new StudioError('E_CONFLICT', `team ${id} already exists`);
  }
  const team: TeamRecord = { id, createdBy: p.userId, createdAt: deps.now().toISOString() };
  await deps.meta.createTeam(team);
  await deps.meta.setMembership(id, p.userId, 'admin');
  await recordAudit(deps, p, id, 'team.create', id, { admin: p.userId });
  return team;
}

/** A user by id, or by email when `ref` contains '@'. Throws E_NOT_FOUND with what to do about it. */
async function findUser(deps: CoreDeps, ref: string): Promise<UserRecord> {
  const user = ref.includes('@') ? await deps.meta.findUserByEmail(ref) : await deps.meta.getUser(ref);
  if (!user) {
    throw new StudioError(
      'E_NOT_FOUND',
      `no user ${ref}: they must sign in once first (deployment), or be created with \`studio-lite user add\` (shared box)`,
    );
  }
  return user;
}

/**
 * Adds a member or changes their role (team admins only). Returns `changed: false` when the role was already set
 * (nothing is written or audited). Demoting the last admin throws E_CONFLICT.
 */
export async function setMember(
  deps: CoreDeps,
  p: Principal,
  team: string,
  ref: string,
  role: Role,
): Promise<{ member: MemberInfo; previousRole: Role | null; changed: boolean }> {
  requireUserCredential(p, 'administer teams');
  team = teamIdFor(p.teams, team);
  requireRole(p, team, 'admin');
  const user = await findUser(deps, ref);
  const previousRole = (await deps.meta.getMemberships(user.id))[team] ?? null;
  const member: MemberInfo = { userId: user.id, role, name: user.name, email: user.email ?? null };
  if (previousRole === role) return { member, previousRole, changed: false };
  await deps.meta.setMembership(team, user.id, role, { keepAdmin: true });
  const action = previousRole ? 'member.update' : 'member.add';
  await recordAudit(deps, p, team, action, user.id, { role, previousRole });
  await revokeTokensAfterRoleChange(deps, p, team, user.id, role);
  return { member, previousRole, changed: true };
}

/**
 * Removes a member: a team admin may remove anyone, any member themself. The last admin cannot leave (E_CONFLICT).
 * A non-admin naming someone else gets E_FORBIDDEN before any lookup, so emails reveal nothing to them.
 */
export async function removeMember(
  deps: CoreDeps,
  p: Principal,
  team: string,
  ref: string,
): Promise<{ userId: string; previousRole: Role }> {
  requireUserCredential(p, 'administer teams');
  team = teamIdFor(p.teams, team);
  requireRole(p, team, 'viewer');
  requireWriteScope(p, 'change memberships');
  let userId: string;
  if (p.teams[team] === 'admin') userId = (await findUser(deps, ref)).id;
  else {
    const me = await deps.meta.getUser(p.userId);
    if (ref !== p.userId && (!me?.email || ref.toLowerCase() !== me.email.toLowerCase())) {
      throw new StudioError('E_FORBIDDEN', `only a team admin can remove other members of ${team}`);
    }
    userId = p.userId;
  }
  const previousRole = (await deps.meta.getMemberships(userId))[team];
  if (!previousRole) throw new StudioError('E_NOT_FOUND', `${ref} is not a member of team ${team}`);
  await deps.meta.setMembership(team, userId, null, { keepAdmin: true });
  await recordAudit(deps, p, team, 'member.remove', userId, { previousRole });
  await revokeTokensAfterRoleChange(deps, p, team, userId, null);
  return { userId, previousRole };
}

/** The caller's teams by id. */
export async function listMyTeams(deps: CoreDeps, p: Principal): Promise<MyTeam[]> {
  requireUserCredential(p, 'list teams');
  const memberships = await deps.meta.getMemberships(p.userId);
  return Object.entries(memberships)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([id, role]) => ({ id, role, effectiveRole: p.teams[id] ?? null }));
}

/** A team's members with names and emails (viewers and up). Throws E_FORBIDDEN. */
export async function listMembers(deps: CoreDeps, p: Principal, team: string): Promise<MemberInfo[]> {
  team = teamIdFor(p.teams, team);
  requireRole(p, team, 'viewer');
  const members = await deps.meta.listTeamMembers(team);
  return Promise.all(
    members.map(async (m) => {
      const u = await deps.meta.getUser(m.userId);
      return { userId: m.userId, role: m.role, name: u?.name ?? null, email: u?.email ?? null };
    }),
  );
}
