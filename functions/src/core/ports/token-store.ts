import type { TokenRecord } from '../model.ts';

/**
 * Hashed bearer tokens (personal, worker, job): the secret is never stored, a lookup is by its hash. Errors:
 * E_CONFLICT (a hash that exists), E_UNAVAILABLE when unreachable.
 */
export interface TokenStore {
  /** Inserts a token. Throws E_CONFLICT when a token with this hash exists; never overwrites. */
  putToken(token: TokenRecord): Promise<void>;
  /** The token whose secret hashes to `hash`, or null. */
  getTokenByHash(hash: string): Promise<TokenRecord | null>;
  /** The token with this id (not the hash), or null. */
  getToken(id: string): Promise<TokenRecord | null>;
  /** Every token of one user, revoked and expired ones included, newest (createdAt) first. */
  listTokens(userId: string): Promise<TokenRecord[]>;
  /** Every worker and job token bound to `team` (binding.team), revoked and expired included, newest first. */
  listTeamTokens(team: string): Promise<TokenRecord[]>;
  /** Sets revokedAt unless already set (the first revocation time is kept); unknown ids are a no-op. */
  revokeToken(id: string, at: string): Promise<void>;
}
