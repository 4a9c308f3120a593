import {
  createLocalJWKSet,
  createRemoteJWKSet,
  decodeProtectedHeader,
  errors,
  type JSONWebKeySet,
  type JWTPayload,
  type JWTVerifyGetKey,
  jwtVerify,
  UnsecuredJWT,
} from 'jose';
import { isStudioError, StudioError } from '../../contract/errors.ts';

/**
 * The one JWKS/JWT verifier of the GCP adapters, on `jose`: Google-signed tokens checked against a key set that is
 * fetched, cached and refetched on an unknown `kid`. Both identity paths use it: Firebase ID tokens of people
 * (firebase-identity.ts) and the OIDC tokens Cloud Tasks attaches to internal calls (internal-auth.ts).
 */
export interface GoogleJwtVerifierOptions {
  /** Where the signing keys are fetched; cached, refetched when an unknown `kid` shows up. */
  jwksUrl: string;
  /** Fixed keys instead of fetching (tests). */
  publicKeys?: JSONWebKeySet | undefined;
  issuer: string | string[];
  audience: string;
  requiredClaims: string[];
  /** Accept unsigned (`alg: none`) tokens after the same claim checks: the Firebase Auth emulator's. Tests only. */
  allowUnsigned?: boolean | undefined;
  now?: (() => Date) | undefined;
  /** Allowed clock skew for exp/iat (default 30 s). */
  clockToleranceSeconds?: number | undefined;
  /** How errors name the token, e.g. "Firebase ID token" (default "token"). */
  label?: string | undefined;
}

export interface GoogleJwtVerifier {
  /**
   * The verified payload of a compact JWT. Throws E_UNAUTHENTICATED (malformed, unsigned, bad signature, wrong issuer
   * or audience, a required claim missing), E_TOKEN_EXPIRED, or E_UNAVAILABLE when the signing keys cannot be fetched.
   */
  verify(token: string): Promise<JWTPayload>;
}

/** Errors of key lookup that say nothing about the token: the key source itself failed. */
class KeySourceError extends Error {}

/** The key set: fixed keys, or the remote JWKS whose fetch failures are told apart from bad tokens. */
export function googleKeyResolver(opts: Pick<GoogleJwtVerifierOptions, 'jwksUrl' | 'publicKeys'>): JWTVerifyGetKey {
  if (opts.publicKeys) return createLocalJWKSet(opts.publicKeys);
  const remote = createRemoteJWKSet(new URL(opts.jwksUrl), { timeoutDuration: 5000, cooldownDuration: 30_000 });
  return async (header, token) => {
    try {
      return await remote(header, token);
    } catch (err) {
      if (err instanceof errors.JWKSNoMatchingKey || err instanceof errors.JWKSMultipleMatchingKeys) throw err;
      throw new KeySourceError('signing keys unavailable', { cause: err });
    }
  };
}

/** Verifies RS256 Google-signed JWTs: signature, issuer, audience, required claims, exp and an iat of ≤ 1 hour. */
export function createGoogleJwtVerifier(opts: GoogleJwtVerifierOptions): GoogleJwtVerifier {
  const keys = googleKeyResolver(opts);
  const label = opts.label ?? 'token';
  const now = opts.now ?? (() => new Date());
  const invalid = (why: string, cause?: unknown) =>
    new StudioError('E_UNAUTHENTICATED', `invalid ${label}: ${why}`, cause === undefined ? {} : { cause });

  return {
    async verify(token) {
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch (cause) {
        throw invalid('malformed header', cause);
      }
      const checks = {
        issuer: opts.issuer,
        audience: opts.audience,
        requiredClaims: opts.requiredClaims,
        // Google ID tokens live one hour; an older iat means a forged or replayed lifetime.
        maxTokenAge: 3600,
        clockTolerance: opts.clockToleranceSeconds ?? 30,
        currentDate: now(),
      };
      try {
        if (alg === 'none') {
          if (!opts.allowUnsigned) throw invalid('unsigned');
          return UnsecuredJWT.decode(token, checks).payload;
        }
        return (await jwtVerify(token, keys, { ...checks, algorithms: ['RS256'] })).payload;
      } catch (err) {
        if (isStudioError(err)) throw err;
        if (err instanceof KeySourceError) {
          throw new StudioError('E_UNAVAILABLE', `cannot fetch ${label} signing keys`, { cause: err.cause });
        }
        if (err instanceof errors.JWTExpired) {
          throw new StudioError('E_TOKEN_EXPIRED', `${label} has expired`, { cause: err });
        }
        throw invalid(err instanceof errors.JOSEError ? err.message : 'unreadable', err);
      }
    },
  };
}
