import { StudioError } from '../contract/errors.ts';
import type { TokenInfo } from '../contract/model.ts';
import { type Principal, ROLE_RANK } from '../contract/model.ts';
import { teamIdFor } from '../contract/names.ts';
import { recordAudit } from './audit.ts';
import { requireRole, requireUserCredential, requireWriteScope, scopeCap } from './authz.ts';
import type { CoreDeps } from './context.ts';
import type { TokenRecord } from './model.ts';
import { mintToken } from './tokens.ts';

/** Scopes a personal access token may carry. */
export const TOKEN_SCOPES = ['*', 'read', 'write'] as const;
export const DEFAULT_TOKEN_TTL_SECONDS = 90 * 24 * 3600;
export const MAX_TOKEN_TTL_SECONDS = 365 * 24 * 3600;

/** A token as shown to its owner: everything but the hash. */

export function tokenInfo(t: TokenRecord): TokenInfo {
  const { hash: _hash, ...info } = t;
  return info;
}

function requirePersonal(p: Principal): void {
  requireUserCredential(p, 'manage tokens');
}

/**
 * Token events go to the audit log of every team the token's owner belongs to at that moment, and of the team a
 * worker token is bound to (a user without a team: nothing to write). The target is the token id; never the secret
 * or its hash.
 */
async function auditToken(
  deps: CoreDeps,
  actor: Principal,
  t: TokenRecord,
  action: 'token.create' | 'token.revoke',
): Promise<void> {
  const teams = new Set(Object.keys(await deps.meta.getMemberships(t.userId)));
  // A worker token also belongs to the team it is bound to (its owner may have left that team since).
  if (t.binding?.team) teams.add(t.binding.team);
  await recordAudit(deps, actor, [...teams], action, t.id, {
    owner: t.userId,
    kind: t.kind,
    scopes: t.scopes,
    expiresAt: t.expiresAt,
  });
}

/**
 * Mints a personal access token for the caller. Only a personal token may mint (job/worker tokens cannot), and never
 * one that may do more than itself: a `read` token cannot mint a `write` or `*` token (E_FORBIDDEN), or scopes would
 * cap nothing. Scopes must come from TOKEN_SCOPES; every token expires, after 90 days by default and at most one
 * year. The secret is returned once and never stored.
 */
export async function createToken(
  deps: CoreDeps,
  p: Principal,
  input: { scopes: string[]; expiresInSeconds?: number | undefined },
): Promise<{ secret: string; token: TokenInfo }> {
  requirePersonal(p);
  const want = scopeCap(input.scopes.filter((s) => (TOKEN_SCOPES as readonly string[]).includes(s)));
  const have = scopeCap(p.scopes);
  if (want && (!have || ROLE_RANK[want] > ROLE_RANK[have])) {
    throw new StudioError(
      'E_FORBIDDEN',
      `a token with scopes ${p.scopes.join(', ')} cannot mint one with scopes ${input.scopes.join(', ')}`,
    );
  }
  return issuePersonalToken(deps, p, p.userId, input);
}

/**
 * Validates and mints a personal token for `ownerId`, audited with `actor` (the owner itself, or the local admin
 * creating a user on a shared box). Throws E_BAD_REQUEST for bad scopes or lifetimes (nothing is stored).
 */
export async function issuePersonalToken(
  deps: CoreDeps,
  actor: Principal,
  ownerId: string,
  input: { scopes: string[]; expiresInSeconds?: number | undefined },
): Promise<{ secret: string; token: TokenInfo }> {
  if (input.scopes.length === 0) throw new StudioError('E_BAD_REQUEST', 'a token needs at least one scope');
  for (const s of input.scopes) {
    if (!(TOKEN_SCOPES as readonly string[]).includes(s)) {
      throw new StudioError('E_BAD_REQUEST', `unknown scope "${s}" (allowed: ${TOKEN_SCOPES.join(', ')})`);
    }
  }
  const ttl = input.expiresInSeconds ?? DEFAULT_TOKEN_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl < 1) {
    throw new StudioError('E_BAD_REQUEST', 'expiresInSeconds must be a positive integer');
  }
  if (ttl > MAX_TOKEN_TTL_SECONDS) {
    throw new StudioError('E_BAD_REQUEST', `a token may live at most ${MAX_TOKEN_TTL_SECONDS} seconds (one year)`);
  }
  const now = deps.now();
  const { secret, record } = await mintToken(deps.meta, {
    userId: ownerId,
    kind: 'personal',
    scopes: [...new Set(input.scopes)],
    expiresAt: new Date(now.getTime() + ttl * 1000),
    now,
  });
  await auditToken(deps, actor, record, 'token.create');
  return { secret, token: tokenInfo(record) };
}

/** The caller's own tokens (revoked and expired included), newest first, without hashes. */
export async function listTokens(deps: CoreDeps, p: Principal): Promise<TokenInfo[]> {
  requirePersonal(p);
  return (await deps.meta.listTokens(p.userId)).map(tokenInfo);
}

/**
 * The worker and job tokens bound to `team`, whoever minted them (team admins with a `*` credential), newest first,
 * without hashes. Personal tokens are their owner's, not the team's: an admin removes the member instead.
 */
export async function listTeamTokens(deps: CoreDeps, p: Principal, team: string): Promise<TokenInfo[]> {
  requirePersonal(p);
  const id = teamIdFor(p.teams, team);
  requireRole(p, id, 'admin');
  return (await deps.meta.listTeamTokens(id)).map(tokenInfo);
}

/**
 * Revokes a token: one of the caller's own (any scope but `read`), or a worker/job token bound to a team the caller
 * administers. Revoking again keeps the first time. Any other id answers E_NOT_FOUND exactly like an unknown id, so
 * ids reveal nothing.
 */
export async function revokeToken(deps: CoreDeps, p: Principal, id: string): Promise<TokenInfo> {
  requirePersonal(p);
  const t = await deps.meta.getToken(id);
  const own = t?.userId === p.userId;
  const teamAdmin = !!t?.binding?.team && t.kind !== 'personal' && p.teams[t.binding.team] === 'admin';
  if (!t || (!own && !teamAdmin)) throw new StudioError('E_NOT_FOUND', `token ${id} not found`);
  requireWriteScope(p, 'revoke tokens');
  if (!t.revokedAt) await deps.meta.revokeToken(id, deps.now().toISOString());
  const after = await deps.meta.getToken(id);
  if (!after) throw new StudioError('E_NOT_FOUND', `token ${id} not found`);
  // Only the call that revoked it is audited (a repeated revoke keeps the first time and changes nothing).
  if (!t.revokedAt) await auditToken(deps, p, after, 'token.revoke');
  return tokenInfo(after);
}
