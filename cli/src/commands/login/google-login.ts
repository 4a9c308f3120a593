import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { type FirebaseClientConfig, StudioError } from '@studio-lite/functions/contract';
import { openBrowser } from '../../auth/browser.ts';
import { authorizationRequest, codeFromPaste, exchangeCode } from '../../auth/google-oauth.ts';
import { signInWithGoogleIdToken } from '../../auth/identity-toolkit.ts';
import { listenOnLoopback } from '../../auth/loopback.ts';
import type { FirebaseLogin } from '../../auth/saved-login.ts';
import type { Logger } from '../../logger.ts';

/** How long the browser flow waits for the redirect. */
const BROWSER_TIMEOUT_MS = 5 * 60_000;

export interface GoogleLoginOptions {
  /** false: --no-browser (print the URL, read the redirected address or the code from stdin). */
  browser: boolean;
  /** Opens the URL instead of $BROWSER / the platform opener (tests drive the sign-in with it). */
  browserCommand?: string | undefined;
  log: Logger;
}

/** The sign-in URL and instructions are the interaction itself, so they are printed even with --quiet. */
function say(text: string): void {
  process.stderr.write(`${text}\n`);
}

/** Signs in with Google, then Firebase; returns what login.json will hold for `apiUrl`. */
export async function googleLogin(
  apiUrl: string,
  fb: FirebaseClientConfig,
  o: GoogleLoginOptions,
): Promise<FirebaseLogin> {
  const googleIdToken = o.browser ? await viaLoopback(fb, o) : await viaPaste(fb);
  o.log.debug('Google sign-in done; exchanging the Google ID token with Firebase');
  const t = await signInWithGoogleIdToken(fb, googleIdToken);
  return {
    api_url: apiUrl,
    kind: 'firebase',
    email: t.email,
    uid: t.uid,
    id_token: t.idToken,
    refresh_token: t.refreshToken,
    expires_at: new Date(Date.now() + t.expiresIn * 1000).toISOString(),
    api_key: fb.apiKey,
    secure_token_url: fb.secureTokenUrl,
  };
}

async function viaLoopback(fb: FirebaseClientConfig, o: GoogleLoginOptions): Promise<string> {
  const listener = await listenOnLoopback();
  try {
    const req = authorizationRequest(fb, listener.redirectUri);
    const waiting = listener.code(req.state, BROWSER_TIMEOUT_MS);
    const opened = await openBrowser(req.url, o.browserCommand);
    if (opened) o.log.info('Your browser has been opened to sign in with Google. If it did not open, visit:');
    else say('Open this address in a browser on this machine to sign in with Google:');
    say(`\n  ${req.url}\n`);
    if (!opened) say('(on a machine without a browser, use `studio-lite login --no-browser`)');
    const code = await waiting;
    return await exchangeCode(fb, req, code);
  } finally {
    await listener.close();
  }
}

async function viaPaste(fb: FirebaseClientConfig): Promise<string> {
  // Nothing listens on this address: the browser shows an error page whose address holds the code.
  const redirectUri = `http://127.0.0.1:${await freePort()}/callback`;
  const req = authorizationRequest(fb, redirectUri);
  say('Open this address in a browser on any machine and sign in with Google:');
  say(`\n  ${req.url}\n`);
  say(`The browser then fails to load a page at ${redirectUri}. Copy that whole address from the address bar`);
  say('(or only its code) and paste it here:');
  const line = await readLine();
  if (line === null) throw new StudioError('E_BAD_REQUEST', 'no sign-in address or code was pasted (stdin closed)');
  return exchangeCode(fb, req, codeFromPaste(line, req));
}

function readLine(): Promise<string | null> {
  return new Promise((resolve) => {
    const rl = createInterface({ input: process.stdin, terminal: false });
    let got: string | null = null;
    rl.once('line', (l) => {
      got = l;
      rl.close();
    });
    rl.once('close', () => resolve(got));
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}
