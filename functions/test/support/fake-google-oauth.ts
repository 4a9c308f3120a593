import { createHash, randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { serveWeb } from './serve-web.ts';

/**
 * A stand-in for Google's OAuth 2.0 endpoints for installed apps (no emulator exists for accounts.google.com):
 * `GET /o/oauth2/v2/auth` signs in the configured user at once (no consent screen) and redirects to the loopback
 * redirect_uri with a code; `POST /token` exchanges the code for tokens, including an RS256 ID token shaped like
 * Google's (the Auth emulator's signInWithIdp accepts it). Every request is checked against what Google requires of
 * a Desktop-app client using PKCE; a request Google would refuse gets Google's error and is listed in `violations`.
 */
export interface FakeGoogleUser {
  /** Google account id (`sub`). */
  sub: string;
  email: string;
  name?: string;
  emailVerified?: boolean;
}

export interface FakeGoogleOAuth {
  url: string;
  authorizeUrl: string;
  tokenUrl: string;
  clientId: string;
  clientSecret: string;
  /** Who the next authorization requests sign in as; 'deny' redirects with error=access_denied. */
  signInAs(user: FakeGoogleUser | 'deny'): void;
  /** Requests a real Google would have refused, with the reason (tests expect none unless they provoke one). */
  violations: string[];
  /** Authorization requests seen (their query), newest last. */
  authorizations: URLSearchParams[];
  /** Codes exchanged successfully. */
  exchanged: number;
  close(): Promise<void>;
}

interface PendingCode {
  clientId: string;
  redirectUri: string;
  challenge: string;
  scope: string;
  user: FakeGoogleUser;
  nonce: string | null;
  expiresAt: number;
  used: boolean;
}

const VERIFIER_RE = /^[A-Za-z0-9._~-]{43,128}$/;
const CHALLENGE_RE = /^[A-Za-z0-9_-]{43}$/;

function isLoopbackRedirect(uri: string): boolean {
  let u: URL;
  try {
    u = new URL(uri);
  } catch {
    return false;
  }
  return u.protocol === 'http:' && ['127.0.0.1', '[::1]', 'localhost'].includes(u.hostname) && !u.hash;
}

export async function startFakeGoogleOAuth(
  opts: { clientId?: string; clientSecret?: string } = {},
): Promise<FakeGoogleOAuth> {
  const clientId = opts.clientId ?? `${randomBytes(6).toString('hex')}-test.apps.googleusercontent.com`;
  const clientSecret = opts.clientSecret ?? `GOCSPX-${randomBytes(12).toString('base64url')}`;
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const kid = randomBytes(8).toString('hex');
  const jwks = { keys: [{ ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }] };
  const codes = new Map<string, PendingCode>();
  let user: FakeGoogleUser | 'deny' = { sub: '100000000000000000001', email: 'someone@example.com' };
  const state = {
    violations: [] as string[],
    authorizations: [] as URLSearchParams[],
    exchanged: 0,
  };

  const html = (status: number, text: string) =>
    new Response(`<!doctype html><title>Error ${status}</title><p>${text}</p>`, {
      status,
      headers: { 'content-type': 'text/html' },
    });
  const oauthError = (status: number, error: string, description: string) => {
    state.violations.push(`token: ${error}: ${description}`);
    return Response.json({ error, error_description: description }, { status });
  };

  function authorize(url: URL): Response {
    const q = url.searchParams;
    state.authorizations.push(q);
    // Google shows its own error page (no redirect) for a bad client or redirect_uri, and for bad parameters.
    const refuse = (why: string) => {
      state.violations.push(`authorize: ${why}`);
      return html(400, `Error 400: invalid_request (${why})`);
    };
    if (q.get('client_id') !== clientId) return refuse('unknown client_id');
    const redirectUri = q.get('redirect_uri') ?? '';
    if (!isLoopbackRedirect(redirectUri)) return refuse(`redirect_uri ${redirectUri} is not a loopback address`);
    if (q.get('response_type') !== 'code') return refuse('response_type must be code');
    const scopes = (q.get('scope') ?? '').split(' ');
    if (!scopes.includes('openid') || !scopes.includes('email')) return refuse('scope must include openid and email');
    if (q.get('code_challenge_method') !== 'S256') return refuse('code_challenge_method must be S256');
    const challenge = q.get('code_challenge') ?? '';
    if (!CHALLENGE_RE.test(challenge)) return refuse('code_challenge is not a base64url SHA-256');
    if (!q.get('state')) return refuse('no state (studio-lite always sends one)');
    const back = new URL(redirectUri);
    back.searchParams.set('state', q.get('state') as string);
    if (user === 'deny') {
      back.searchParams.set('error', 'access_denied');
      return Response.redirect(back.toString(), 302);
    }
    const code = `4/0A${randomBytes(24).toString('base64url')}`;
    codes.set(code, {
      clientId,
      redirectUri,
      challenge,
      scope: scopes.join(' '),
      user,
      nonce: q.get('nonce'),
      expiresAt: Date.now() + 10 * 60_000,
      used: false,
    });
    back.searchParams.set('code', code);
    back.searchParams.set('scope', 'email profile openid');
    return Response.redirect(back.toString(), 302);
  }

  async function token(req: Request): Promise<Response> {
    if (!(req.headers.get('content-type') ?? '').startsWith('application/x-www-form-urlencoded')) {
      return oauthError(400, 'invalid_request', 'body must be application/x-www-form-urlencoded');
    }
    const f = new URLSearchParams(await req.text());
    if (f.get('grant_type') !== 'authorization_code') {
      return oauthError(400, 'unsupported_grant_type', `grant_type ${f.get('grant_type')}`);
    }
    if (f.get('client_id') !== clientId || f.get('client_secret') !== clientSecret) {
      return oauthError(401, 'invalid_client', 'Unauthorized');
    }
    const c = codes.get(f.get('code') ?? '');
    if (!c || c.used || c.expiresAt < Date.now()) return oauthError(400, 'invalid_grant', 'Bad Request');
    c.used = true;
    if (f.get('redirect_uri') !== c.redirectUri) return oauthError(400, 'redirect_uri_mismatch', 'Bad Request');
    const verifier = f.get('code_verifier') ?? '';
    if (!VERIFIER_RE.test(verifier)) return oauthError(400, 'invalid_grant', 'Invalid code verifier.');
    if (createHash('sha256').update(verifier).digest('base64url') !== c.challenge) {
      return oauthError(400, 'invalid_grant', 'Invalid code verifier.');
    }
    const now = Math.floor(Date.now() / 1000);
    const idToken = await new SignJWT({
      azp: clientId,
      email: c.user.email,
      email_verified: c.user.emailVerified ?? true,
      ...(c.user.name ? { name: c.user.name } : {}),
      ...(c.nonce ? { nonce: c.nonce } : {}),
    })
      .setProtectedHeader({ alg: 'RS256', kid, typ: 'JWT' })
      .setIssuer('https://accounts.google.com')
      .setAudience(clientId)
      .setSubject(c.user.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + 3599)
      .sign(privateKey);
    state.exchanged += 1;
    return Response.json({
      access_token: `ya29.${randomBytes(24).toString('base64url')}`,
      expires_in: 3599,
      scope: c.scope,
      token_type: 'Bearer',
      id_token: idToken,
    });
  }

  const server = await serveWeb(async (req) => {
    const url = new URL(req.url);
    if (req.method === 'GET' && url.pathname === '/o/oauth2/v2/auth') return authorize(url);
    if (req.method === 'POST' && url.pathname === '/token') return token(req);
    if (req.method === 'GET' && url.pathname === '/oauth2/v3/certs') return Response.json(jwks);
    return html(404, `no route ${req.method} ${url.pathname}`);
  });
  return {
    url: server.url,
    authorizeUrl: `${server.url}/o/oauth2/v2/auth`,
    tokenUrl: `${server.url}/token`,
    clientId,
    clientSecret,
    signInAs(u) {
      user = u;
    },
    get violations() {
      return state.violations;
    },
    get authorizations() {
      return state.authorizations;
    },
    get exchanged() {
      return state.exchanged;
    },
    close: () => server.close(),
  };
}
