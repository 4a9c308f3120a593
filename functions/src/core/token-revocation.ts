import { type Principal, ROLE_RANK, type Role } from '../contract/model.ts';
import { recordAudit } from './audit.ts';
import type { CoreDeps } from './context.ts';
import type { TokenRecord } from './model.ts';
import { BOUND_TOKEN_ROLE } from './tokens.ts';

/** Still usable: neither revoked nor expired. */
export function isLive(t: TokenRecord, now: Date): boolean {
  return !t.revokedAt && (!t.expiresAt || Date.parse(t.expiresAt) > now.getTime());
}

/** Revokes one token and audits it (to its bound team, or to `teams`), unless it is already revoked. */
export async function revokeAudited(
  deps: CoreDeps,
  actor: Principal,
  t: TokenRecord,
  teams: string[],
  reason: string,
): Promise<boolean> {
  if (t.revokedAt) return false;
  await deps.meta.revokeToken(t.id, deps.now().toISOString());
  const to = new Set(teams);
  if (t.binding?.team) to.add(t.binding.team);
  await recordAudit(deps, actor, [...to], 'token.revoke', t.id, { owner: t.userId, kind: t.kind, reason });
  return true;
}

/**
 * After `userId`'s role on `team` became `role` (null: removed), revokes the worker and job tokens they minted for
 * that team which the new role could not mint (worker: admin, job: editor). The identity refuses such tokens anyway
 * (token-identity.ts); marking them revoked keeps them dead if the person is added back. Returns how many.
 */
export async function revokeTokensAfterRoleChange(
  deps: CoreDeps,
  actor: Principal,
  team: string,
  userId: string,
  role: Role | null,
): Promise<number> {
  const now = deps.now();
  let n = 0;
  for (const t of await deps.meta.listTokens(userId)) {
    if (t.kind === 'personal' || t.binding?.team !== team || !isLive(t, now)) continue;
    if (role && ROLE_RANK[role] >= ROLE_RANK[BOUND_TOKEN_ROLE[t.kind]]) continue;
    if (await revokeAudited(deps, actor, t, [], role ? `owner demoted to ${role}` : 'owner removed from the team')) {
      n += 1;
    }
  }
  return n;
}
