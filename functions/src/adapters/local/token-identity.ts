import { capRoles, scopeCap } from '../../core/authz.ts';
import { StudioError } from '../../core/errors.ts';
import type { Principal } from '../../core/model.ts';
import type { Identity, MetadataStore } from '../../core/ports.ts';
import { hashToken, TOKEN_RE } from '../../core/tokens.ts';

/** Identity from hashed bearer tokens kept in the metadata store (local default; also PATs in a deployment). */
export function createTokenIdentity(meta: MetadataStore, now: () => Date = () => new Date()): Identity {
  return {
    async authenticate(bearer) {
      if (!bearer) throw new StudioError('E_UNAUTHENTICATED', 'missing bearer token');
      if (!TOKEN_RE.test(bearer)) throw new StudioError('E_UNAUTHENTICATED', 'malformed bearer token');
      const t = await meta.getTokenByHash(hashToken(bearer));
      if (!t || t.revokedAt) throw new StudioError('E_UNAUTHENTICATED', 'unknown or revoked token');
      if (t.expiresAt && Date.parse(t.expiresAt) <= now().getTime()) {
        throw new StudioError('E_TOKEN_EXPIRED', 'token has expired');
      }
      // Worker and job tokens act only through their binding; personal tokens through memberships capped by scope.
      const bound = t.kind !== 'personal';
      const principal: Principal = {
        userId: t.userId,
        tokenId: t.id,
        kind: t.kind,
        scopes: t.scopes,
        teams: bound ? {} : capRoles(await meta.getMemberships(t.userId), scopeCap(t.scopes)),
        binding: bound ? (t.binding ?? null) : null,
        expiresAt: t.expiresAt,
      };
      if (bound && !principal.binding) throw new StudioError('E_UNAUTHENTICATED', `${t.kind} token without a binding`);
      return principal;
    },
  };
}
