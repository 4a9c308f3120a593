import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { type FirebaseClientConfig, StudioError } from '@studio-lite/functions/contract';
import * as z from 'zod';
import { googleErrorReason, postForJson } from './google-api-error.ts';

/**
 * Google sign-in for installed apps (RFC 8252): authorization code with PKCE (S256) and `state`, redirected to a
 * loopback address. The code is exchanged for Google tokens; only the ID token is used (it goes to Firebase).
 */

export interface AuthorizationRequest {
  redirectUri: string;
  state: string;
  verifier: string;
  url: string;
}

/** A fresh request: new PKCE verifier (43 chars), challenge and state. */
export function authorizationRequest(fb: FirebaseClientConfig, redirectUri: string): AuthorizationRequest {
  const verifier = randomBytes(32).toString('base64url');
  const challenge = createHash('sha256').update(verifier).digest('base64url');
  const state = randomBytes(16).toString('base64url');
  const url = new URL(fb.authorizeUrl);
  url.search = new URLSearchParams({
    client_id: fb.googleClientId,
    redirect_uri: redirectUri,
    response_type: 'code',
    scope: 'openid email profile',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    state,
    prompt: 'select_account',
  }).toString();
  return { redirectUri, state, verifier, url: url.toString() };
}

function sameState(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/**
 * The authorization code from a redirect's query (`?code=…&state=…` or `?error=…`). Throws E_UNAUTHENTICATED when
 * Google reports an error or the state is not ours (a response to some other sign-in attempt).
 */
export function codeFromRedirect(params: URLSearchParams, state: string): string {
  const got = params.get('state');
  if (got === null || !sameState(got, state)) {
    throw new StudioError('E_UNAUTHENTICATED', 'the sign-in response does not belong to this login (state mismatch)');
  }
  const error = params.get('error');
  if (error) throw new StudioError('E_UNAUTHENTICATED', `Google sign-in failed: ${error}`);
  const code = params.get('code');
  if (!code) throw new StudioError('E_UNAUTHENTICATED', 'the sign-in response carries no authorization code');
  return code;
}

/**
 * What the user pasted in the --no-browser flow: the whole address the browser ended on (its state is checked) or
 * just the code.
 */
export function codeFromPaste(input: string, request: AuthorizationRequest): string {
  const text = input.trim();
  if (!text) throw new StudioError('E_BAD_REQUEST', 'no sign-in address or code was pasted');
  if (/^https?:\/\//i.test(text)) {
    let url: URL;
    try {
      url = new URL(text);
    } catch {
      throw new StudioError('E_BAD_REQUEST', 'the pasted address is not a URL');
    }
    return codeFromRedirect(url.searchParams, request.state);
  }
  if (/[\s?&=]/.test(text)) throw new StudioError('E_BAD_REQUEST', 'paste the whole address, or only the code');
  // Codes copied out of an address bar keep their percent-encoding (Google's start with 4%2F).
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

const tokenResponse = z.object({ id_token: z.string().min(1) });

/** Exchanges the code at Google's token endpoint; returns Google's ID token. */
export async function exchangeCode(fb: FirebaseClientConfig, request: AuthorizationRequest, code: string) {
  const form: Record<string, string> = {
    grant_type: 'authorization_code',
    code,
    client_id: fb.googleClientId,
    redirect_uri: request.redirectUri,
    code_verifier: request.verifier,
  };
  // Google asks Desktop-app clients for their secret even though it cannot be kept secret.
  if (fb.googleClientSecret) form.client_secret = fb.googleClientSecret;
  let res: { status: number; body: unknown };
  try {
    res = await postForJson(fb.tokenUrl, { form });
  } catch (cause) {
    throw new StudioError('E_UNAVAILABLE', `cannot reach Google's token endpoint ${fb.tokenUrl}`, { cause });
  }
  if (res.status >= 500) throw new StudioError('E_UNAVAILABLE', `Google's token endpoint answered ${res.status}`);
  if (res.status !== 200) {
    throw new StudioError(
      'E_UNAUTHENTICATED',
      `Google refused the sign-in code: ${googleErrorReason(res.body, res.status)}`,
    );
  }
  const r = tokenResponse.safeParse(res.body);
  if (!r.success) throw new StudioError('E_UNAUTHENTICATED', 'Google answered without an ID token (scope openid?)');
  return r.data.id_token;
}
