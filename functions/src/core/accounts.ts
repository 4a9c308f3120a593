import { isStudioError, StudioError } from '../contract/errors.ts';
import type { Principal, Role, TokenInfo } from '../contract/model.ts';
import { assertUserId, teamIdFor } from '../contract/names.ts';
import { recordAudit } from './audit.ts';
import { requireRole } from './authz.ts';
import type { CoreDeps } from './context.ts';
import type { UserRecord } from './model.ts';
import { setMember } from './teams.ts';
import { issuePersonalToken, MAX_TOKEN_TTL_SECONDS } from './token-admin.ts';
import { isLive, revokeAudited } from './token-revocation.ts';
import { mintToken } from './tokens.ts';

const EMAIL_RE = /^[^@\s/]+@[^@\s/]+\.[^@\s/]+$/;

export interface AddUserInput {
  id: string;
  email?: string | undefined;
  name?: string | undefined;
  team?: string | undefined;
  role?: Role | undefined;
  expiresInSeconds?: number | undefined;
}

export interface AddUserResult {
  user: UserRecord;
  team: string | null;
  role: Role | null;
  /** The new user's first personal token: shown once, only its hash is stored. */
  secret: string;
  token: TokenInfo;
}

/** Checks and normalises `user add` input before anything is read or written. Throws E_BAD_KEY, E_BAD_REQUEST. */
export function checkAddUserInput(input: AddUserInput): Omit<AddUserInput, 'email'> & { email: string | null } {
  const id = assertUserId(input.id);
  const email = input.email?.trim().toLowerCase() || null;
  if (email !== null && !EMAIL_RE.test(email)) throw new StudioError('E_BAD_REQUEST', `invalid email "${input.email}"`);
  if (input.role && !input.team) throw new StudioError('E_BAD_REQUEST', '--role needs --team');
  const ttl = input.expiresInSeconds;
  if (ttl !== undefined && (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_TOKEN_TTL_SECONDS)) {
    throw new StudioError('E_BAD_REQUEST', 'a token lives from 1 second to one year');
  }
  return { ...input, id, email };
}

/**
 * A shared box (`studio-lite serve --listen`): `admin` (the box's local user) creates another user directly,
 * optionally adds them to a team it administers, and mints their first personal token. Everything is checked before
 * anything is written; the membership and the token are audited with `admin` as the actor.
 * Throws E_BAD_KEY, E_BAD_REQUEST, E_CONFLICT (user or email taken), E_FORBIDDEN (not an admin of the team).
 */
export async function addUser(deps: CoreDeps, admin: Principal, input: AddUserInput): Promise<AddUserResult> {
  const { id, email } = checkAddUserInput(input);
  const team = input.team ? teamIdFor(admin.teams, input.team) : undefined;
  if (team) requireRole(admin, team, 'admin');
  if (await deps.accounts.getUser(id)) {
    throw new StudioError(
      'E_CONFLICT',
      `user ${id} already exists (they mint more tokens with \`studio-lite token create\`)`,
    );
  }
  if (email && (await deps.accounts.findUserByEmail(email))) {
    throw new StudioError('E_CONFLICT', `another user already has the email ${email}`);
  }
  const user: UserRecord = { id, name: input.name ?? id, email, createdAt: deps.now().toISOString() };
  await deps.accounts.putUser(user);
  const role = team ? (input.role ?? 'viewer') : null;
  if (team && role) await setMember(deps, admin, team, id, role);
  const { secret, token } = await issuePersonalToken(deps, admin, id, {
    scopes: ['*'],
    expiresInSeconds: input.expiresInSeconds,
  });
  return { user, team: team ?? null, role, secret, token };
}

export interface UserInfo extends UserRecord {
  teams: Record<string, Role>;
  /** Tokens they hold (personal, worker, job) neither revoked nor expired. */
  liveTokens: number;
}

/** `user list` on a shared box: every user with their teams and how many live tokens they hold. */
export async function listUsersWithTeams(deps: CoreDeps): Promise<UserInfo[]> {
  const now = deps.now();
  return Promise.all(
    (await deps.accounts.listUsers()).map(async (u) => ({
      ...u,
      teams: await deps.accounts.getMemberships(u.id),
      liveTokens: (await deps.tokens.listTokens(u.id)).filter((t) => isLive(t, now)).length,
    })),
  );
}

/**
 * `user remove ID` on a shared box (offboarding): takes the user out of every team and revokes every token they
 * hold (personal, worker, job), all audited with `admin` (the box's local user) as the actor. The user record stays, so their
 * experiments keep an owner. Refuses the box's own user and a user who is the last admin of a team (E_CONFLICT,
 * nothing changed: promote someone else first). Throws E_NOT_FOUND for an unknown user.
 */
export async function removeUser(
  deps: CoreDeps,
  admin: Principal,
  id: string,
): Promise<{ userId: string; teams: Record<string, Role>; revokedTokens: number }> {
  assertUserId(id);
  if (id === admin.userId) throw new StudioError('E_BAD_REQUEST', "the box's own user cannot be removed");
  if (!(await deps.accounts.getUser(id))) throw new StudioError('E_NOT_FOUND', `no user ${id}`);
  const teams = await deps.accounts.getMemberships(id);
  for (const [team, role] of Object.entries(teams)) {
    if (role !== 'admin') continue;
    const admins = (await deps.accounts.listTeamMembers(team)).filter((m) => m.role === 'admin');
    if (admins.length <= 1) {
      throw new StudioError('E_CONFLICT', `${id} is the last admin of team ${team}: make someone else admin first`);
    }
  }
  for (const [team, previousRole] of Object.entries(teams)) {
    await deps.accounts.setMembership(team, id, null, { keepAdmin: true });
    await recordAudit(deps, admin, team, 'member.remove', id, { previousRole, reason: 'user removed' });
  }
  let revokedTokens = 0;
  for (const t of await deps.tokens.listTokens(id)) {
    if (await revokeAudited(deps, admin, t, Object.keys(teams), 'user removed')) revokedTokens += 1;
  }
  return { userId: id, teams, revokedTokens };
}

/**
 * First use of a box (the embedded backend): its owner user, a team the owner administers, and a new personal token
 * (scope `*`, no expiry). What exists is kept, so it is safe to run again and from concurrent first runs. Returns the
 * token's secret (only its sha256 is stored).
 */
export async function provisionOwner(
  deps: CoreDeps,
  owner: { userId: string; name: string; team: string },
): Promise<string> {
  const now = deps.now();
  if (!(await deps.accounts.getUser(owner.userId))) {
    await deps.accounts.putUser({ id: owner.userId, name: owner.name, createdAt: now.toISOString() });
  }
  const teams = await deps.accounts.getMemberships(owner.userId);
  if (!(await deps.accounts.getTeam(owner.team))) {
    // Concurrent first runs may both try; the loser's E_CONFLICT means the record is there.
    await deps.accounts
      .createTeam({ id: owner.team, createdBy: owner.userId, createdAt: now.toISOString() })
      .catch((err: unknown) => {
        if (!isStudioError(err, 'E_CONFLICT')) throw err;
      });
  }
  if (!teams[owner.team]) await deps.accounts.setMembership(owner.team, owner.userId, 'admin');
  const { secret } = await mintToken(deps, {
    userId: owner.userId,
    kind: 'personal',
    scopes: ['*'],
    expiresAt: null,
    now,
  });
  return secret;
}
