// The CLI's sign-in pieces without a deployment: PKCE and state, what a pasted address may be, how the browser is
// started, login.json, and the Firebase session's refresh (against a local stand-in for securetoken).
import { createHash } from 'node:crypto';
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type FirebaseClientConfig, isStudioError } from '@studio-lite/functions/contract';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiClient } from '../../src/api-client.ts';
import { browserCommand } from '../../src/auth/browser.ts';
import { FirebaseSession } from '../../src/auth/firebase-session.ts';
import { authorizationRequest, codeFromPaste, codeFromRedirect } from '../../src/auth/google-oauth.ts';
import { listenOnLoopback } from '../../src/auth/loopback.ts';
import { type FirebaseLogin, readSavedLogin, saveLogin } from '../../src/auth/saved-login.ts';
import { sendJson, startRecordServer } from './helpers/record-server.ts';
import { useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();
let closers: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(closers.map((c) => c()));
  closers = [];
});

const FB: FirebaseClientConfig = {
  apiKey: 'k',
  projectId: 'demo-p',
  googleClientId: 'client.apps.googleusercontent.com',
  googleClientSecret: null,
  authorizeUrl: 'https://accounts.example/o/oauth2/v2/auth',
  tokenUrl: 'https://oauth.example/token',
  identityToolkitUrl: 'https://idt.example/v1',
  secureTokenUrl: 'https://st.example/v1',
};

async function codeOf(p: Promise<unknown> | (() => unknown)): Promise<string | null> {
  try {
    await (typeof p === 'function' ? p() : p);
    return null;
  } catch (err) {
    return isStudioError(err) ? err.code : String(err);
  }
}

describe('authorization request', () => {
  it('uses S256 PKCE, a fresh state and the loopback redirect', () => {
    const a = authorizationRequest(FB, 'http://127.0.0.1:5000/callback');
    const b = authorizationRequest(FB, 'http://127.0.0.1:5000/callback');
    const q = new URL(a.url).searchParams;
    expect(a.url.startsWith(`${FB.authorizeUrl}?`)).toBe(true);
    expect(Object.fromEntries(q)).toMatchObject({
      client_id: FB.googleClientId,
      redirect_uri: 'http://127.0.0.1:5000/callback',
      response_type: 'code',
      code_challenge_method: 'S256',
      state: a.state,
    });
    expect(q.get('scope')?.split(' ')).toEqual(expect.arrayContaining(['openid', 'email']));
    expect(q.get('code_challenge')).toBe(createHash('sha256').update(a.verifier).digest('base64url'));
    expect(a.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(a.state).not.toBe(b.state);
    expect(a.verifier).not.toBe(b.verifier);
  });
});

describe('redirect and pasted input', () => {
  const req = authorizationRequest(FB, 'http://127.0.0.1:5000/callback');
  const back = (q: Record<string, string>) => `http://127.0.0.1:5000/callback?${new URLSearchParams(q)}`;

  it('takes the code from the redirected address or the bare (percent-encoded) code', () => {
    expect(codeFromPaste(back({ code: '4/0Abc', state: req.state }), req)).toBe('4/0Abc');
    expect(codeFromPaste(`  ${back({ state: req.state, code: 'xyz', scope: 'email' })}  `, req)).toBe('xyz');
    expect(codeFromPaste('4%2F0Abc', req)).toBe('4/0Abc');
    expect(codeFromPaste('plaincode', req)).toBe('plaincode');
  });

  it('refuses another state, no state, an error, no code, and junk', async () => {
    expect(await codeOf(() => codeFromPaste(back({ code: 'c', state: 'other' }), req))).toBe('E_UNAUTHENTICATED');
    expect(await codeOf(() => codeFromPaste(back({ code: 'c' }), req))).toBe('E_UNAUTHENTICATED');
    expect(await codeOf(() => codeFromPaste(back({ error: 'access_denied', state: req.state }), req))).toBe(
      'E_UNAUTHENTICATED',
    );
    expect(await codeOf(() => codeFromRedirect(new URLSearchParams({ state: req.state }), req.state))).toBe(
      'E_UNAUTHENTICATED',
    );
    expect(await codeOf(() => codeFromPaste('', req))).toBe('E_BAD_REQUEST');
    expect(await codeOf(() => codeFromPaste('code=1&state=2', req))).toBe('E_BAD_REQUEST');
  });

  it('the loopback listener ignores strays, answers the browser and resolves with the code', async () => {
    const l = await listenOnLoopback();
    closers.push(() => l.close());
    expect(l.redirectUri).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    const code = l.code('s1', 10_000);
    const base = l.redirectUri;
    expect((await fetch(`${base}?code=x&state=wrong`)).status).toBe(400);
    expect((await fetch(base.replace('/callback', '/favicon.ico'))).status).toBe(404);
    const ok = await fetch(`${base}?code=the-code&state=s1`);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toContain('Signed in');
    expect(await code).toBe('the-code');
  });

  it('the loopback listener gives up after its timeout', async () => {
    const l = await listenOnLoopback();
    closers.push(() => l.close());
    expect(await codeOf(l.code('s', 50))).toBe('E_UNAUTHENTICATED');
  });
});

describe('browser command', () => {
  const url = 'https://accounts.example/auth?a=1&b=2';
  it('prefers --browser-command, then $BROWSER (first entry, %s), then the platform opener', () => {
    expect(browserCommand(url, 'node /x/b.mjs', { BROWSER: 'firefox' }, 'linux')).toEqual({
      cmd: 'node',
      args: ['/x/b.mjs', url],
    });
    expect(browserCommand(url, undefined, { BROWSER: 'lynx -dump %s' }, 'linux')).toEqual({
      cmd: 'lynx',
      args: ['-dump', url],
    });
    expect(browserCommand(url, undefined, {}, 'darwin')).toEqual({ cmd: 'open', args: [url] });
    expect(browserCommand(url, undefined, {}, 'win32')).toEqual({
      cmd: 'rundll32',
      args: ['url.dll,FileProtocolHandler', url],
    });
    expect(browserCommand(url, undefined, { DISPLAY: ':0' }, 'linux')).toEqual({ cmd: 'xdg-open', args: [url] });
    // A headless Linux box: nothing to start (the URL is printed; --no-browser is suggested).
    expect(browserCommand(url, undefined, {}, 'linux')).toBeNull();
  });
});

function firebaseLogin(over: Partial<FirebaseLogin> = {}): FirebaseLogin {
  return {
    api_url: 'https://api.example',
    kind: 'firebase',
    email: 'a@example.com',
    uid: 'u1',
    id_token: 'id-1',
    refresh_token: 'r-1',
    expires_at: new Date(Date.now() + 3600_000).toISOString(),
    api_key: 'k',
    secure_token_url: 'http://127.0.0.1:1/v1',
    ...over,
  };
}

describe('login.json', () => {
  it('reads the original token format and the Firebase one; anything else is no login', () => {
    const home = tmp();
    saveLogin(home, { api_url: 'https://api.example', token: 'slt_x' });
    expect(statSync(join(home, 'login.json')).mode & 0o777).toBe(0o600);
    expect(readSavedLogin(home)).toEqual({ api_url: 'https://api.example', token: 'slt_x' });
    const fb = firebaseLogin();
    saveLogin(home, fb);
    expect(readSavedLogin(home)).toEqual(fb);
    writeFileSync(join(home, 'login.json'), JSON.stringify({ api_url: 'x', kind: 'firebase' }));
    expect(readSavedLogin(home)).toBeNull();
    writeFileSync(join(home, 'login.json'), 'not json');
    expect(readSavedLogin(home)).toBeNull();
  });
});

describe('Firebase session', () => {
  async function securetoken(answer: (n: number) => [number, unknown]) {
    const srv = await startRecordServer((_req, res, nth) => {
      const [status, body] = answer(nth);
      sendJson(res, status, body);
    });
    closers.push(srv.close);
    return srv;
  }
  const fresh = (n: number): [number, unknown] => [
    200,
    { id_token: `id-${n + 1}`, refresh_token: 'r-1', expires_in: '3600', user_id: 'u1', token_type: 'Bearer' },
  ];

  it('uses a fresh token as is; refreshes one expiring within a minute once, even for concurrent requests', async () => {
    const st = await securetoken(fresh);
    const home = tmp();
    const login = firebaseLogin({
      secure_token_url: `${st.base}/v1`,
      expires_at: new Date(Date.now() + 30_000).toISOString(),
    });
    saveLogin(home, login);
    const s = new FirebaseSession(home, login);
    const got = await Promise.all([s.get(), s.get(), s.get()]);
    expect(got).toEqual(['id-2', 'id-2', 'id-2']);
    expect(st.requests).toHaveLength(1);
    expect(st.requests[0]?.url).toBe('/v1/token?key=k');
    expect(Object.fromEntries(new URLSearchParams(st.requests[0]?.body.toString()))).toEqual({
      grant_type: 'refresh_token',
      refresh_token: 'r-1',
    });
    expect(await s.get()).toBe('id-2');
    expect(st.requests).toHaveLength(1);
    const saved = readSavedLogin(home) as FirebaseLogin;
    expect(saved.id_token).toBe('id-2');
    expect(Date.parse(saved.expires_at)).toBeGreaterThan(Date.now() + 3500_000);
    expect(statSync(join(home, 'login.json')).mode & 0o777).toBe(0o600);
  });

  it('takes a token another process already refreshed; does not resurrect a login that was logged out', async () => {
    const st = await securetoken(fresh);
    const home = tmp();
    const stale = firebaseLogin({ secure_token_url: `${st.base}/v1`, expires_at: new Date(0).toISOString() });
    saveLogin(home, {
      ...stale,
      id_token: 'id-from-other-process',
      expires_at: new Date(Date.now() + 3600_000).toISOString(),
    });
    expect(await new FirebaseSession(home, stale).get()).toBe('id-from-other-process');
    expect(st.requests).toHaveLength(0);

    saveLogin(home, { api_url: 'https://elsewhere.example', token: 'slt_y' });
    expect(await new FirebaseSession(home, stale).get()).toBe('id-2');
    expect(readSavedLogin(home)).toEqual({ api_url: 'https://elsewhere.example', token: 'slt_y' });
  });

  it('a refused refresh is E_UNAUTHENTICATED telling to log in again; an outage is E_UNAVAILABLE', async () => {
    const st = await securetoken((n) =>
      n === 1 ? [400, { error: { code: 400, message: 'TOKEN_EXPIRED' } }] : [503, {}],
    );
    const home = tmp();
    const login = firebaseLogin({ secure_token_url: `${st.base}/v1`, expires_at: new Date(0).toISOString() });
    saveLogin(home, login);
    const s = new FirebaseSession(home, login);
    const err = await s.get().catch((e: unknown) => e);
    expect(isStudioError(err, 'E_UNAUTHENTICATED')).toBe(true);
    expect((err as Error).message).toBe(
      'your sign-in to https://api.example has expired or was revoked (TOKEN_EXPIRED): run `studio-lite login https://api.example` again',
    );
    expect(await codeOf(s.get())).toBe('E_UNAVAILABLE');
    expect(readSavedLogin(home)).toEqual(login);
  });

  it('the API client refreshes once and resends when the server says the token expired', async () => {
    const st = await securetoken(fresh);
    const home = tmp();
    const login = firebaseLogin({ secure_token_url: `${st.base}/v1` });
    saveLogin(home, login);
    const api = await startRecordServer((req, res) =>
      req.headers.authorization === 'Bearer id-2'
        ? sendJson(res, 200, { principal: { userId: 'u1' }, team: null })
        : sendJson(res, 401, { error: { code: 'E_TOKEN_EXPIRED', message: 'expired' } }),
    );
    closers.push(api.close);
    const who = await new ApiClient(api.base, new FirebaseSession(home, login)).whoami();
    expect(who.principal.userId).toBe('u1');
    expect(api.requests.map((r) => r.headers.authorization)).toEqual(['Bearer id-1', 'Bearer id-2']);
  });
});
