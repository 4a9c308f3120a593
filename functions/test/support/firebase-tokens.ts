import { createHash } from 'node:crypto';

/**
 * Firebase ID tokens from the Auth emulator for tests (`host` = FIREBASE_AUTH_EMULATOR_HOST, e.g. from
 * inject('authEmulatorHost')). The emulator issues tokens for the project it was started with; the API under test
 * must use that project id (GOOGLE_CLOUD_PROJECT) and trust the emulator (FIREBASE_AUTH_EMULATOR_HOST).
 */

export interface FirebaseSignIn {
  idToken: string;
  refreshToken: string;
  uid: string;
  email: string;
}

/** Any key works with the emulator; production keys never appear in tests. */
const API_KEY = 'fake-api-key';

async function call<T>(host: string, path: string, body: unknown, admin = false): Promise<T> {
  const res = await fetch(`http://${host}/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(admin ? { authorization: 'Bearer owner' } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`auth emulator ${path}: ${res.status} ${text}`);
  return JSON.parse(text) as T;
}

/** A stable Google account id per email, so the same email is always the same Firebase user. */
export function googleSubFor(email: string): string {
  const n = BigInt(`0x${createHash('sha256').update(email.toLowerCase()).digest('hex').slice(0, 15)}`);
  return `1${n.toString().padStart(20, '0')}`;
}

/**
 * Signs `email` in with Google on the emulator (creating the user on first use) and returns a fresh ID token, like
 * `studio-lite login` gets one. `emailVerified: false` gives a token the API must refuse. `projectId` re-addresses
 * the (unsigned) token to another project, for an API under test that keeps its data in a per-run project: an API
 * trusting the emulator checks only the claims.
 */
export async function firebaseIdToken(
  host: string,
  email: string,
  opts: { name?: string; emailVerified?: boolean; projectId?: string } = {},
): Promise<FirebaseSignIn> {
  const claims = {
    sub: googleSubFor(email),
    email,
    email_verified: opts.emailVerified ?? true,
    ...(opts.name ? { name: opts.name } : {}),
  };
  const r = await call<{ idToken: string; refreshToken: string; localId: string; email: string }>(
    host,
    `identitytoolkit.googleapis.com/v1/accounts:signInWithIdp?key=${API_KEY}`,
    {
      postBody: new URLSearchParams({ id_token: JSON.stringify(claims), providerId: 'google.com' }).toString(),
      requestUri: 'http://localhost',
      returnSecureToken: true,
    },
  );
  const idToken =
    opts.projectId && decodeClaims(r.idToken).aud !== opts.projectId
      ? withClaims(r.idToken, { aud: opts.projectId, iss: `https://securetoken.google.com/${opts.projectId}` })
      : r.idToken;
  return { idToken, refreshToken: r.refreshToken, uid: r.localId, email: r.email };
}

/** An email/password account (its email is NOT verified): the API refuses its tokens. */
export async function passwordIdToken(
  host: string,
  email: string,
  password = 'not-a-secret-42',
): Promise<FirebaseSignIn> {
  const r = await call<{ idToken: string; refreshToken: string; localId: string; email: string }>(
    host,
    `identitytoolkit.googleapis.com/v1/accounts:signUp?key=${API_KEY}`,
    { email, password, returnSecureToken: true },
  );
  return { idToken: r.idToken, refreshToken: r.refreshToken, uid: r.localId, email: r.email };
}

/** Disables (or enables) an emulator user: its refresh token stops working, like a revoked account. */
export async function setUserDisabled(host: string, projectId: string, uid: string, disabled: boolean): Promise<void> {
  await call(
    host,
    `identitytoolkit.googleapis.com/v1/projects/${projectId}/accounts:update`,
    {
      localId: uid,
      disableUser: disabled,
    },
    true,
  );
}

/** The claims of a JWT (no verification). */
export function decodeClaims(token: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as Record<string, unknown>;
}

/**
 * An unsigned token like the emulator's with some claims changed (undefined removes one): e.g. an expired token
 * `withClaims(t, { iat: past, exp: past + 3600, auth_time: past })`. Only an API trusting the emulator accepts it.
 */
export function withClaims(token: string, patch: Record<string, unknown>): string {
  const claims: Record<string, unknown> = { ...decodeClaims(token), ...patch };
  for (const [k, v] of Object.entries(claims)) if (v === undefined) delete claims[k];
  const part = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}
