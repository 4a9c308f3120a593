import { randomBytes } from 'node:crypto';
import { StudioError } from '../contract/errors.ts';
import type { Principal } from '../contract/model.ts';
import { requireUserCredential } from './authz.ts';
import type { CoreDeps } from './context.ts';
import { hashToken, mintToken } from './tokens.ts';

/** A sign-in code lives this long, and dies at its first use. */
export const SIGNIN_CODE_TTL_SECONDS = 300;
/** A browser session (a personal token in an HttpOnly cookie) lasts this long. */
export const WEB_SESSION_TTL_SECONDS = 12 * 3600;

/**
 * One-time sign-in codes: only the sha256 is stored. `consume` is a compare-and-set: of two uses of one code,
 * exactly one gets the record; an expired or used code gives null.
 */
export interface SigninCodeStore {
  create(c: { hash: string; userId: string; scopes: string[]; expiresAt: string }): Promise<void>;
  consume(hash: string, now: string): Promise<{ userId: string; scopes: string[] } | null>;
}

function store(deps: CoreDeps): SigninCodeStore {
  if (!deps.signinCodes) {
    throw new StudioError('E_UNAVAILABLE', 'sign-in codes exist on the local backend only; sign in with Google here');
  }
  return deps.signinCodes;
}

/** A code for the caller's browser: the session it becomes acts with the caller's own scopes, never more. */
export async function createSigninCode(deps: CoreDeps, p: Principal): Promise<{ code: string; expiresAt: string }> {
  requireUserCredential(p, 'open a web session');
  const code = `slc_${randomBytes(32).toString('base64url')}`;
  const expiresAt = new Date(deps.now().getTime() + SIGNIN_CODE_TTL_SECONDS * 1000).toISOString();
  await store(deps).create({ hash: hashToken(code), userId: p.userId, scopes: p.scopes, expiresAt });
  return { code, expiresAt };
}

/** Trades a code for a session token. Throws E_UNAUTHENTICATED for an unknown, used or expired code. */
export async function exchangeSigninCode(deps: CoreDeps, code: string): Promise<{ secret: string; expiresAt: string }> {
  const now = deps.now();
  const got = await store(deps).consume(hashToken(code), now.toISOString());
  if (!got)
    throw new StudioError(
      'E_UNAUTHENTICATED',
      'this sign-in code is unknown, used or expired; run `studio-lite ui` again',
    );
  const expires = new Date(now.getTime() + WEB_SESSION_TTL_SECONDS * 1000);
  const { secret } = await mintToken(deps.meta, {
    userId: got.userId,
    kind: 'personal',
    scopes: got.scopes,
    expiresAt: expires,
    now,
    label: 'web session',
  });
  return { secret, expiresAt: expires.toISOString() };
}
