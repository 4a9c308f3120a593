import { StudioError } from '../../contract/errors.ts';
import type { Role, TokenInfo } from '../../contract/model.ts';
import { assertUserId, teamIdFor } from '../../contract/names.ts';
import { recordAudit } from '../../core/audit.ts';
import { requireRole } from '../../core/authz.ts';
import type { CoreDeps } from '../../core/context.ts';
import type { UserRecord } from '../../core/model.ts';
import { setMember } from '../../core/teams.ts';
import { issuePersonalToken, MAX_TOKEN_TTL_SECONDS } from '../../core/token-admin.ts';
import { isLive, revokeAudited } from '../../core/token-revocation.ts';
import { ensureLocalCredentials } from './local-backend.ts';

const EMAIL_RE = /^[^@\s/]+@[^@\s/]+\.[^@\s/]+$/;

export interface AddLocalUserInput {
  id: string;
  email?: string | undefined;
  name?: string | undefined;
  team?: string | undefined;
  role?: Role | undefined;
  expiresInSeconds?: number | undefined;
}

export interface AddLocalUserResult {
  user: UserRecord;
  team: string | null;
  role: Role | null;
  /** The new user's first personal token: shown once, only its hash is stored. */
  secret: string;
  token: TokenInfo;
}

/**
 * A shared box (`studio-lite serve --listen`): the box's local user creates another user directly in the embedded
 * database, optionally adds them to a team it administers, and mints their first personal token. Everything is
 * checked before anything is written; the membership and the token are audited with the local user as the actor.
 * Throws E_BAD_KEY, E_BAD_REQUEST, E_CONFLICT (user or email taken), E_FORBIDDEN (not an admin of the team).
 */
export async function addLocalUser(
  deps: CoreDeps,
  home: string,
  input: AddLocalUserInput,
): Promise<AddLocalUserResult> {
  const id = assertUserId(input.id);
  const email = input.email?.trim().toLowerCase() || null;
  if (email !== null && !EMAIL_RE.test(email)) throw new StudioError('E_BAD_REQUEST', `invalid email "${input.email}"`);
  if (input.role && !input.team) throw new StudioError('E_BAD_REQUEST', '--role needs --team');
  const ttl = input.expiresInSeconds;
  if (ttl !== undefined && (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS)) {
    throw new StudioError('E_BAD_REQUEST', 'a token lives from 1 second to one year');
  }
  const creds = await ensureLocalCredentials(home, deps);
  const admin = await deps.identity.authenticate(creds.token);
  const team = input.team ? teamIdFor(admin.teams, input.team) : undefined;
  if (team) requireRole(admin, team, 'admin');
  if (await deps.meta.getUser(id)) {
    throw new StudioError(
      'E_CONFLICT',
      `user ${id} already exists (they mint more tokens with \`studio-lite token create\`)`,
    );
  }
  if (email && (await deps.meta.findUserByEmail(email))) {
    throw new StudioError('E_CONFLICT', `another user already has the email ${email}`);
  }
  const user: UserRecord = { id, name: input.name ?? id, email, createdAt: deps.now().toISOString() };
  await deps.meta.putUser(user);
  const role = team ? (input.role ?? 'viewer') : null;
  if (team && role) await setMember(deps, admin, team, id, role);
  const { secret, token } = await issuePersonalToken(deps, admin, id, {
    scopes: ['*'],
    expiresInSeconds: input.expiresInSeconds,
  });
  return { user, team: team ?? null, role, secret, token };
}

export interface LocalUserInfo extends UserRecord {
  teams: Record<string, Role>;
  /** Tokens they hold (personal, worker, job) neither revoked nor expired. */
  liveTokens: number;
}

/** `user list` on a shared box: every user with their teams and how many live tokens they hold. */
export async function listLocalUsers(deps: CoreDeps, home: string): Promise<LocalUserInfo[]> {
  await ensureLocalCredentials(home, deps);
  const now = deps.now();
  return Promise.all(
    (await deps.meta.listUsers()).map(async (u) => ({
      ...u,
      teams: await deps.meta.getMemberships(u.id),
      liveTokens: (await deps.meta.listTokens(u.id)).filter((t) => isLive(t, now)).length,
    })),
  );
}

/**
 * `user remove ID` on a shared box (offboarding): takes the user out of every team and revokes every token they
 * hold (personal, worker, job), all audited with the box's local user as the actor. The user record stays, so their
 * experiments keep an owner. Refuses the box's own user and a user who is the last admin of a team (E_CONFLICT,
 * nothing changed: promote someone else first). Throws E_NOT_FOUND for an unknown user.
 */
export async function removeLocalUser(
  deps: CoreDeps,
  home: string,
  id: string,
): Promise<{ userId: string; teams: Record<string, Role>; revokedTokens: number }> {
  assertUserId(id);
  const creds = await ensureLocalCredentials(home, deps);
  const admin = await deps.identity.authenticate(creds.token);
  if (id === admin.userId) throw new StudioError('E_BAD_REQUEST', "the box's own user cannot be removed");
  if (!(await deps.meta.getUser(id))) throw new StudioError('E_NOT_FOUND', `no user ${id}`);
  const teams = await deps.meta.getMemberships(id);
  for (const [team, role] of Object.entries(teams)) {
    if (role !== 'admin') continue;
    const admins = (await deps.meta.listTeamMembers(team)).filter((m) => m.role === 'admin');
    if (admins.length <= 1) {
      throw new StudioError('E_CONFLICT', `${id} is the last admin of team ${team}: make someone else admin first`);
    }
  }
  for (const [team, previousRole] of Object.entries(teams)) {
    await deps.meta.setMembership(team, id, null, { keepAdmin: true });
    await recordAudit(deps, admin, team, 'member.remove', id, { previousRole, reason: 'user removed' });
  }
  let revokedTokens = 0;
  for (const t of await deps.meta.listTokens(id)) {
    if (await revokeAudited(deps, admin, t, Object.keys(teams), 'user removed')) revokedTokens += 1;
  }
  return { userId: id, teams, revokedTokens };
}
