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
import type { Identity, MetadataStore } from '../../core/ports.ts';

/** Google's public keys for Firebase ID tokens (securetoken service account), as a JWKS. */
export const FIREBASE_JWKS_URL =
  'https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com';

/** Three base64url segments; the Auth emulator's unsigned tokens have an empty third one. */
export const JWT_RE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/;

/** Firebase uids are at most 128 characters; these also stay safe as Firestore document ids and in messages. */
const UID_RE = /^[A-Za-z0-9_.:@+-]{1,128}$/;

export interface FirebaseIdentityOptions {
  /** The Firebase / Google Cloud project: `aud` of its ID tokens and the suffix of their `iss`. */
  projectId: string;
  /** Where the signing keys are fetched (default Google's); cached, refetched when an unknown `kid` shows up. */
  jwksUrl?: string;
  /** Fixed keys instead of fetching (tests). */
  publicKeys?: JSONWebKeySet;
  /**
   * Also accept the Auth emulator's unsigned (`alg: none`) tokens after the same claim checks. Tests only: anyone
   * can mint such a token, so this throws when NODE_ENV is production.
   */
  emulator?: boolean;
  now?: () => Date;
  /** Allowed clock skew for exp/iat/auth_time (default 30 s). */
  clockToleranceSeconds?: number;
}

/** What a verified Firebase ID token says about its user. */
export interface FirebaseClaims {
  uid: string;
  /** Lower-cased, always present and verified (tokens without a verified email are refused). */
  email: string;
  name: string;
  iat: number;
  exp: number;
  jti: string | null;
  signInProvider: string | null;
}

export interface FirebaseTokenVerifier {
  /** Throws E_UNAUTHENTICATED (malformed, bad signature, wrong project, no verified email), E_TOKEN_EXPIRED, or
   * E_UNAVAILABLE when the signing keys cannot be fetched. */
  verify(token: string): Promise<FirebaseClaims>;
}

/** Errors of key lookup that say nothing about the token: the key source itself failed. */
class KeySourceError extends Error {}

function keyResolver(opts: FirebaseIdentityOptions): JWTVerifyGetKey {
  if (opts.publicKeys) return createLocalJWKSet(opts.publicKeys);
  const remote = createRemoteJWKSet(new URL(opts.jwksUrl ?? FIREBASE_JWKS_URL), {
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

const invalid = (why: string, cause?: unknown) =>
  new StudioError('E_UNAUTHENTICATED', `invalid Firebase ID token: ${why}`, cause === undefined ? {} : { cause });

/** Verifies Firebase ID tokens as Google documents it (RS256, iss, aud, exp, iat, auth_time, sub). */
export function createFirebaseTokenVerifier(opts: FirebaseIdentityOptions): FirebaseTokenVerifier {
  if (!opts.projectId) throw new StudioError('E_INTERNAL', 'firebase identity: option "projectId" is required');
  if (opts.emulator && process.env.NODE_ENV === 'production') {
    throw new StudioError('E_INTERNAL', 'firebase identity: the Auth emulator must not be trusted in production');
  }
  const keys = keyResolver(opts);
  const tolerance = opts.clockToleranceSeconds ?? 30;
  const now = opts.now ?? (() => new Date());

  return {
    async verify(token) {
      if (!JWT_RE.test(token)) throw invalid('not a JWT');
      let alg: string | undefined;
      try {
        alg = decodeProtectedHeader(token).alg;
      } catch (cause) {
        throw invalid('malformed header', cause);
      }
      const checks = {
        issuer: `https://securetoken.google.com/${opts.projectId}`,
        audience: opts.projectId,
        requiredClaims: ['exp', 'iat', 'sub', 'auth_time'],
        // ID tokens live one hour; an older iat means a forged lifetime.
        maxTokenAge: 3600,
        clockTolerance: tolerance,
        currentDate: now(),
      };
      let payload: JWTPayload;
      try {
        if (alg === 'none') {
          if (!opts.emulator) throw invalid('unsigned');
          ({ payload } = UnsecuredJWT.decode(token, checks));
        } else {
          ({ payload } = await jwtVerify(token, keys, { ...checks, algorithms: ['RS256'] }));
        }
      } catch (err) {
        if (isStudioError(err)) throw err;
        if (err instanceof KeySourceError) {
          throw new StudioError('E_UNAVAILABLE', 'cannot fetch Firebase token signing keys', { cause: err.cause });
        }
        if (err instanceof errors.JWTExpired) {
          throw new StudioError('E_TOKEN_EXPIRED', 'Firebase ID token has expired', { cause: err });
        }
        throw invalid(err instanceof errors.JOSEError ? err.message : 'unreadable', err);
      }
      return claimsOf(payload, now().getTime() / 1000 + tolerance);
    },
  };
}

function claimsOf(payload: JWTPayload, latest: number): FirebaseClaims {
  const { sub, iat, exp } = payload;
  if (typeof sub !== 'string' || !UID_RE.test(sub) || sub === '.' || sub === '..') throw invalid('bad "sub"');
  if (typeof iat !== 'number' || iat > latest) throw invalid('"iat" in the future');
  if (typeof exp !== 'number') throw invalid('no "exp"');
  const authTime = payload.auth_time;
  if (typeof authTime !== 'number' || authTime > latest) throw invalid('"auth_time" in the future');
  // Team admins add people by email, so every sign-in must prove one (Google's are verified; password accounts
  // must have confirmed theirs).
  const email = typeof payload.email === 'string' ? payload.email.toLowerCase() : '';
  if (!email) throw invalid('no email address');
  if (payload.email_verified !== true) throw invalid(`email address ${email} is not verified`);
  const firebase = payload.firebase as { sign_in_provider?: unknown } | undefined;
  return {
    uid: sub,
    email,
    name: typeof payload.name === 'string' && payload.name ? payload.name : email,
    iat,
    exp,
    jti: typeof payload.jti === 'string' ? payload.jti : null,
    signInProvider: typeof firebase?.sign_in_provider === 'string' ? firebase.sign_in_provider : null,
  };
}

/**
 * Identity from Firebase ID tokens: a person signed in with Firebase Authentication. The user record (uid, name,
 * email) is created or updated on their first request; they act with their memberships, like a personal token with
 * scope `*`.
 */
export function createFirebaseIdentity(opts: FirebaseIdentityOptions & { meta: MetadataStore }): Identity {
  const verifier = createFirebaseTokenVerifier(opts);
  const now = opts.now ?? (() => new Date());
  // Users already written by this instance, with the name and email written: skips a read on most requests.
  const stored = new Map<string, string>();

  async function upsertUser(c: FirebaseClaims): Promise<void> {
    const stamp = `${c.name}\n${c.email}`;
    if (stored.get(c.uid) === stamp) return;
    const user = await opts.meta.getUser(c.uid);
    if (!user || user.name !== c.name || user.email !== c.email) {
      try {
        await opts.meta.putUser({ id: c.uid, name: c.name, email: c.email, createdAt: now().toISOString() });
      } catch (err) {
        if (!isStudioError(err, 'E_CONFLICT')) throw err;
        throw new StudioError(
          'E_UNAUTHENTICATED',
          `the email address ${c.email} already belongs to another studio-lite user; ask an administrator`,
          { cause: err },
        );
      }
    }
    if (stored.size >= 10_000) stored.clear();
    stored.set(c.uid, stamp);
  }

  return {
    async authenticate(bearer) {
      if (!bearer) throw new StudioError('E_UNAUTHENTICATED', 'missing bearer token');
      const c = await verifier.verify(bearer);
      await upsertUser(c);
      return {
        userId: c.uid,
        tokenId: `firebase:${c.jti ?? c.iat}`,
        kind: 'firebase',
        scopes: ['*'],
        teams: await opts.meta.getMemberships(c.uid),
        binding: null,
        expiresAt: new Date(c.exp * 1000).toISOString(),
      };
    },
  };
}
