import {
  createLocalJWKSet,
  createRemoteJWKSet,
  errors,
  type JSONWebKeySet,
  type JWTVerifyGetKey,
  jwtVerify,
} from 'jose';
import { StudioError } from '../contract/errors.ts';

/** Google's signing keys for ID tokens (what Cloud Tasks' OIDC tokens are). */
export const GOOGLE_JWKS_URL = 'https://www.googleapis.com/oauth2/v3/certs';
const GOOGLE_ISSUERS = ['https://accounts.google.com', 'accounts.google.com'];

export interface OidcVerifierOptions {
  /** Expected `aud`: the base URL the tasks target (CloudTasksQueueOptions.targetBaseUrl). */
  audience: string;
  /** The task service account(s) allowed to call internal routes. */
  allowedEmail: string | string[];
  /** Where the signing keys are fetched (default Google's); cached, refetched when an unknown `kid` shows up. */
  jwksUrl?: string;
  /** Fixed keys instead of fetching (tests). */
  publicKeys?: JSONWebKeySet;
  now?: () => Date;
  /** Allowed clock skew for exp/iat (default 30 s). */
  clockToleranceSeconds?: number;
}

export interface OidcClaims {
  iss: string;
  sub: string;
  email: string;
  exp: number;
  iat: number;
}

export interface OidcVerifier {
  /**
   * Checks an `Authorization` header value. Throws E_UNAUTHENTICATED (missing, malformed, bad signature, wrong issuer
   * or audience), E_TOKEN_EXPIRED, E_FORBIDDEN (a valid Google token for another or unverified account), or
   * E_UNAVAILABLE when the signing keys cannot be fetched.
   */
  verify(authorization: string | null | undefined): Promise<OidcClaims>;
}

/** Errors of key lookup that say nothing about the token: the key source itself failed. */
class KeySourceError extends Error {}

function keyResolver(opts: OidcVerifierOptions): JWTVerifyGetKey {
  if (opts.publicKeys) return createLocalJWKSet(opts.publicKeys);
  const remote = createRemoteJWKSet(new URL(opts.jwksUrl ?? GOOGLE_JWKS_URL), {
    timeoutDuration: 5000,
    cooldownDuration: 30_000,
  });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      throw new KeySourceError('signing keys unavailable', { cause: err });
    }
  };
}

/** Verifies the Google-signed OIDC tokens Cloud Tasks attaches to internal requests. */
export function createOidcVerifier(opts: OidcVerifierOptions): OidcVerifier {
  if (!opts.audience) throw new StudioError('E_INTERNAL', 'oidc verifier: option "audience" is required');
  const allowed = new Set((Array.isArray(opts.allowedEmail) ? opts.allowedEmail : [opts.allowedEmail]).map(lower));
  if (allowed.size === 0 || allowed.has('')) {
    throw new StudioError('E_INTERNAL', 'oidc verifier: option "allowedEmail" is required');
  }
  const keys = keyResolver(opts);
  const tolerance = opts.clockToleranceSeconds ?? 30;
  const now = opts.now ?? (() => new Date());

  return {
    async verify(authorization) {
      if (!authorization) throw new StudioError('E_UNAUTHENTICATED', 'missing bearer token');
      const m = /^Bearer\s+([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/.exec(authorization.trim());
      if (!m) throw new StudioError('E_UNAUTHENTICATED', 'authorization must be a Bearer JWT');
      let payload: Record<string, unknown>;
      try {
        ({ payload } = await jwtVerify(m[1] as string, keys, {
          algorithms: ['RS256'],
          issuer: GOOGLE_ISSUERS,
          audience: opts.audience,
          requiredClaims: ['exp', 'iat', 'sub', 'email'],
          // Google ID tokens live one hour; an older iat means a forged or replayed lifetime.
          maxTokenAge: 3600,
          clockTolerance: tolerance,
          currentDate: now(),
        }));
      } catch (err) {
        if (err instanceof KeySourceError) {
          throw new StudioError('E_UNAVAILABLE', 'cannot fetch token signing keys', { cause: err.cause });
        }
        if (err instanceof errors.JWTExpired) throw new StudioError('E_TOKEN_EXPIRED', 'token expired', { cause: err });
        const why = err instanceof errors.JOSEError ? err.message : 'invalid token';
        throw new StudioError('E_UNAUTHENTICATED', `invalid token: ${why}`, { cause: err });
      }
      const email = typeof payload.email === 'string' ? payload.email : '';
      if (!allowed.has(lower(email)))
        throw new StudioError('E_FORBIDDEN', 'token is not from the task service account');
      if (payload.email_verified !== true) throw new StudioError('E_FORBIDDEN', 'token email is not verified');
      return {
        iss: payload.iss as string,
        sub: payload.sub as string,
        email,
        exp: payload.exp as number,
        iat: payload.iat as number,
      };
    },
  };
}

function lower(s: string): string {
  return s.toLowerCase();
}
