import { StudioError } from '../../contract/errors.ts';
import { type Principal, ROLE_RANK, type Role } from '../../contract/model.ts';
import { capRoles, scopeCap } from '../../core/authz.ts';
import type { TokenRecord } from '../../core/model.ts';
import type { Identity, MetadataStore } from '../../core/ports.ts';
import { BOUND_TOKEN_ROLE, hashToken, TOKEN_RE } from '../../core/tokens.ts';

/** Identity from hashed bearer tokens kept in the metadata store (local default; also PATs in a deployment). */
export function createTokenIdentity(meta: MetadataStore, now: () => Date = () => new Date()): Identity {
  return {
    async authenticate(bearer) {
      if (!bearer) throw new StudioError('E_UNAUTHENTICATED', 'missing bearer token');
      if (!TOKEN_RE.test(bearer)) throw new StudioError('E_UNAUTHENTICATED', 'malformed bearer token');
      const t = await meta.getTokenByHash(hashToken(bearer));
      if (!t) throw new StudioError('E_UNAUTHENTICATED', 'unknown or revoked token');
      // A job token is revoked when its lease ends, however it ends: the worker hears what it always heard then.
      if (t.revokedAt && t.kind === 'job') throw new StudioError('E_LEASE_LOST', 'the lease of this job has ended');
      if (t.revokedAt) throw new StudioError('E_UNAUTHENTICATED', 'unknown or revoked token');
      if (t.expiresAt && Date.parse(t.expiresAt) <= now().getTime()) {
        throw new StudioError('E_TOKEN_EXPIRED', 'token has expired');
      }
      // Worker and job tokens act only through their binding; personal tokens through memberships capped by scope.
      const bound = t.kind !== 'personal';
      const memberships = await meta.getMemberships(t.userId);
      const principal: Principal = {
        userId: t.userId,
        tokenId: t.id,
        kind: t.kind,
        scopes: t.scopes,
        teams: bound ? {} : capRoles(memberships, scopeCap(t.scopes)),
        binding: bound ? (t.binding ?? null) : null,
        expiresAt: t.expiresAt,
      };
      if (bound && !principal.binding) throw new StudioError('E_UNAUTHENTICATED', `${t.kind} token without a binding`);
      if (bound) requireOwnerStillEntitled(t.kind, principal.binding?.team ?? '', memberships);
      return principal;
    },
  };
}

/**
 * A worker or job token dies with its owner's membership: it is checked against the owner's current role on every
 * request, so removing a member or lowering their role ends what they minted at once (core/token-revocation.ts also
 * marks those tokens revoked, so adding the person back does not revive them).
 */
function requireOwnerStillEntitled(kind: TokenRecord['kind'], team: string, memberships: Record<string, Role>): void {
  if (kind === 'personal') return;
  const need = BOUND_TOKEN_ROLE[kind];
  const has = memberships[team];
  if (!has || ROLE_RANK[has] < ROLE_RANK[need]) {
    const why = `its owner is no longer ${need} of ${team}`;
    if (kind === 'job') throw new StudioError('E_LEASE_LOST', `this job token was revoked: ${why}`);
    throw new StudioError('E_UNAUTHENTICATED', `this ${kind} token was revoked: ${why}`);
  }
}
