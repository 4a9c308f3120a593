import { requireRole } from '../../core/authz.ts';
import type { CoreDeps } from '../../core/context.ts';
import { StudioError } from '../../core/errors.ts';
import type { Role, UserRecord } from '../../core/model.ts';
import { assertTeamId, assertUserId } from '../../core/names.ts';
import { setMember } from '../../core/teams.ts';
import { issuePersonalToken, MAX_TOKEN_TTL_SECONDS, type TokenInfo } from '../../core/token-admin.ts';
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
  if (input.team) {
    assertTeamId(input.team);
    requireRole(admin, input.team, 'admin');
  }
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
  const role = input.team ? (input.role ?? 'viewer') : null;
  if (input.team && role) await setMember(deps, admin, input.team, id, role);
  const { secret, token } = await issuePersonalToken(deps, admin, id, {
    scopes: ['*'],
    expiresInSeconds: input.expiresInSeconds,
  });
  return { user, team: input.team ?? null, role, secret, token };
}
