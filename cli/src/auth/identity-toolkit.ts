import { type FirebaseClientConfig, StudioError } from '@studio-lite/functions/contract';
import * as z from 'zod';
import { googleErrorReason, postForJson } from './google-api-error.ts';

/** Firebase Authentication's REST API (Identity Toolkit + securetoken), the two calls the CLI needs. */

const signInResponse = z.object({
  idToken: z.string().min(1),
  refreshToken: z.string().min(1),
  expiresIn: z.coerce.number().int().positive(),
  localId: z.string().min(1),
  email: z.string().optional(),
  needConfirmation: z.boolean().optional(),
});

const refreshResponse = z.object({
  id_token: z.string().min(1),
  refresh_token: z.string().min(1),
  expires_in: z.coerce.number().int().positive(),
  user_id: z.string().min(1),
});

export interface FirebaseTokens {
  idToken: string;
  refreshToken: string;
  /** Seconds the ID token is valid for. */
  expiresIn: number;
  uid: string;
  email: string | null;
}

async function post(url: string, init: { form?: Record<string, string>; json?: unknown }, what: string) {
  try {
    return await postForJson(url, init);
  } catch (cause) {
    throw new StudioError('E_UNAVAILABLE', `cannot reach ${what} at ${new URL(url).origin}`, { cause });
  }
}

/** Exchanges a Google ID token for a Firebase session (accounts:signInWithIdp), creating the user on first use. */
export async function signInWithGoogleIdToken(
  fb: FirebaseClientConfig,
  googleIdToken: string,
): Promise<FirebaseTokens> {
  const url = `${fb.identityToolkitUrl}/accounts:signInWithIdp?key=${encodeURIComponent(fb.apiKey)}`;
  const { status, body } = await post(
    url,
    {
      json: {
        postBody: new URLSearchParams({ id_token: googleIdToken, providerId: 'google.com' }).toString(),
        // Required to be a URL; with a credential in postBody nothing is redirected to it.
        requestUri: 'http://localhost',
        returnSecureToken: true,
      },
    },
    'Firebase Authentication',
  );
  if (status >= 500) throw new StudioError('E_UNAVAILABLE', `Firebase Authentication answered ${status}`);
  if (status !== 200) {
    throw new StudioError(
      'E_UNAUTHENTICATED',
      `Firebase refused the Google sign-in: ${googleErrorReason(body, status)}`,
    );
  }
  const r = signInResponse.safeParse(body);
  if (!r.success) throw new StudioError('E_INTERNAL', 'Firebase Authentication answered signInWithIdp unexpectedly');
  if (r.data.needConfirmation) {
    throw new StudioError(
      'E_UNAUTHENTICATED',
      `an account for ${r.data.email ?? 'this email'} already exists with another sign-in method`,
    );
  }
  return {
    idToken: r.data.idToken,
    refreshToken: r.data.refreshToken,
    expiresIn: r.data.expiresIn,
    uid: r.data.localId,
    email: r.data.email?.toLowerCase() ?? null,
  };
}

/**
 * A fresh ID token for a refresh token (securetoken `grant_type=refresh_token`). Throws E_UNAUTHENTICATED with
 * Google's reason (INVALID_REFRESH_TOKEN, TOKEN_EXPIRED after a password change or revocation, USER_DISABLED,
 * USER_NOT_FOUND) when the session is over, E_UNAVAILABLE when the service cannot be reached.
 */
export async function refreshFirebaseToken(
  secureTokenUrl: string,
  apiKey: string,
  refreshToken: string,
): Promise<FirebaseTokens> {
  const url = `${secureTokenUrl}/token?key=${encodeURIComponent(apiKey)}`;
  const { status, body } = await post(
    url,
    { form: { grant_type: 'refresh_token', refresh_token: refreshToken } },
    'Firebase secure token service',
  );
  if (status >= 500 || status === 429) {
    throw new StudioError('E_UNAVAILABLE', `Firebase secure token service answered ${status}`);
  }
  if (status !== 200) throw new StudioError('E_UNAUTHENTICATED', googleErrorReason(body, status));
  const r = refreshResponse.safeParse(body);
  if (!r.success) throw new StudioError('E_INTERNAL', 'Firebase secure token service answered unexpectedly');
  return {
    idToken: r.data.id_token,
    refreshToken: r.data.refresh_token,
    expiresIn: r.data.expires_in,
    uid: r.data.user_id,
    email: null,
  };
}
