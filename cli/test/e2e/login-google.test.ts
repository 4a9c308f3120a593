// `studio-lite login` with Google against a deployment on this machine: the bundled Cloud Function on the
// emulators, trusting a Firebase Auth emulator, with a fake Google OAuth server in place of accounts.google.com.
// The real CLI binary does the sign-in; a test "browser" (test-browser.mjs, given with --browser-command) follows
// the authorization address to the fake Google and the redirect back to the CLI's loopback listener.
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { FakeGoogleUser } from '../../../functions/test/support/fake-google-oauth.ts';
import {
  decodeClaims,
  googleSubFor,
  setUserDisabled,
  withClaims,
} from '../../../functions/test/support/firebase-tokens.ts';
import { type GcpDeployment, startGcpDeployment } from './gcp-harness.ts';
import {
  BIN,
  type CliResult,
  cli,
  cliOk,
  collect,
  errorLine,
  freePort,
  makeSandbox,
  removeSandbox,
  type Sandbox,
  startCli,
  waitFor,
} from './helpers.ts';

const BROWSER = `${process.execPath} ${join(import.meta.dirname, 'test-browser.mjs')}`;
let dep: GcpDeployment;
const sandboxes: ReturnType<typeof makeSandbox>[] = [];
let n = 0;

/** A machine of a person who has not logged in yet (no STUDIOML_* variables), with a browser log. */
function machine(): Sandbox & { browserLog: string } {
  const sb = makeSandbox();
  sandboxes.push(sb);
  const browserLog = join(sb.tmp(), 'browser.jsonl');
  return { ...sb, env: { ...sb.env, TEST_BROWSER_LOG: browserLog }, browserLog };
}

function person(name: string): FakeGoogleUser {
  n += 1;
  const email = `${name}-${n}-${Date.now().toString(36)}@example.com`;
  return { sub: googleSubFor(email), email, name };
}

interface LoginJson {
  api_url: string;
  kind: string;
  email: string;
  uid: string;
  id_token: string;
  refresh_token: string;
  expires_at: string;
  api_key: string;
  secure_token_url: string;
}
const loginFile = (sb: Sandbox) => join(sb.home, 'login.json');
const readLogin = (sb: Sandbox) => JSON.parse(readFileSync(loginFile(sb), 'utf8')) as LoginJson;
const modeOf = (file: string) => statSync(file).mode & 0o777;
/** Rewrites login.json the way an editor would keep it private. */
function writeLogin(sb: Sandbox, login: LoginJson): void {
  writeFileSync(loginFile(sb), JSON.stringify(login), { mode: 0o600 });
}

async function browserLogin(sb: Sandbox, who: FakeGoogleUser | 'deny', extra: string[] = []): Promise<CliResult> {
  dep.signIn?.google.signInAs(who);
  return cli(sb, ['login', dep.url, '--browser-command', BROWSER, ...extra]);
}

/** `login --no-browser`: waits for the printed address, lets `paste(address)` produce the line typed back. */
async function pasteLogin(sb: Sandbox, who: FakeGoogleUser, paste: (redirected: URL) => string): Promise<CliResult> {
  dep.signIn?.google.signInAs(who);
  const child = spawn(process.execPath, [BIN, 'login', dep.url, '--no-browser'], {
    cwd: sb.cwd,
    env: sb.env,
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const out = collect(child);
  let stderr = '';
  child.stderr?.on('data', (s: string) => {
    stderr += s;
  });
  const AUTH_URL = /(http:\/\/127\.0\.0\.1:\d+\/o\/oauth2\/v2\/auth\?\S+)/;
  await waitFor(() => AUTH_URL.test(stderr), 'the sign-in address');
  // The person opens it in a browser elsewhere; the redirect target does not load, its address is copied.
  const res = await fetch((AUTH_URL.exec(stderr) as RegExpExecArray)[1] as string, { redirect: 'manual' });
  expect(res.status).toBe(302);
  const redirected = new URL(res.headers.get('location') as string);
  child.stdin?.end(`${paste(redirected)}\n`);
  return out;
}

beforeAll(async () => {
  dep = await startGcpDeployment({ signIn: true });
  console.info(`[login e2e] deployment with sign-in up: ${JSON.stringify(dep.timings)} ms`);
}, 150_000);

afterAll(async () => {
  for (const sb of sandboxes) removeSandbox(sb);
  await dep?.stop();
});

describe('studio-lite login with Google (browser, loopback redirect)', () => {
  it('signs in, saves login.json 0600; once a team admin adds them, the person works in the team', async () => {
    const sb = machine();
    const alice = person('alice');
    const r = await browserLogin(sb, alice);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`signed in to ${dep.url} as ${alice.email}`);
    expect(r.stderr).toContain(`not a member of any team yet: ask a team admin to add ${alice.email}`);

    // What the browser went through: Google, then the CLI's page on the loopback listener.
    const seen = readFileSync(sb.browserLog, 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(seen).toHaveLength(1);
    expect(seen[0].finalUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback\?/);
    expect(seen[0].status).toBe(200);
    expect(seen[0].body).toContain('Signed in');
    const google = dep.signIn?.google;
    expect(google?.violations).toEqual([]);
    const asked = google?.authorizations.at(-1);
    expect(asked?.get('redirect_uri')).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/callback$/);
    expect(asked?.get('code_challenge_method')).toBe('S256');

    expect(modeOf(loginFile(sb))).toBe(0o600);
    const login = readLogin(sb);
    expect(login).toMatchObject({ api_url: dep.url, kind: 'firebase', email: alice.email, api_key: 'fake-api-key' });
    expect(decodeClaims(login.id_token)).toMatchObject({ aud: dep.signIn?.projectId, sub: login.uid });
    expect(Date.parse(login.expires_at)).toBeGreaterThan(Date.now() + 50 * 60_000);

    // Signed in, but in no team: commands are refused until an admin adds them.
    const before = await cli(sb, ['experiments', '--json']);
    expect(before.code).toBe(1);
    expect(errorLine(before.stderr).code).toBe('E_FORBIDDEN');
    await dep.accounts.setMembership(dep.team, login.uid, 'editor');

    await cliOk(sb, ['run', '-q', '-e', `google-${n}`, '--', 'node', '-e', 'console.log(1)']);
    const list = JSON.parse((await cliOk(sb, ['experiments', '--json'])).stdout).experiments as {
      key: string;
      owner: string;
    }[];
    expect(list.find((e) => e.key === `google-${n}`)?.owner).toBe(login.uid);
    // The user record the function keeps for team administration.
    expect(await dep.accounts.getUser(login.uid)).toMatchObject({ email: alice.email, name: 'alice' });

    // Logging in again lists the team.
    const again = await browserLogin(sb, alice);
    expect(again.code, again.stderr).toBe(0);
    expect(again.stderr).toContain(`teams: ${dep.team} (editor)`);
    expect(readLogin(sb).uid).toBe(login.uid);

    await cliOk(sb, ['logout']);
    expect(existsSync(loginFile(sb))).toBe(false);
  });

  it('a refused consent ends the login with E_UNAUTHENTICATED and saves nothing', async () => {
    const sb = machine();
    const r = await browserLogin(sb, 'deny');
    expect(r.code).toBe(1);
    const e = errorLine(r.stderr);
    expect(e.code).toBe('E_UNAUTHENTICATED');
    expect(e.message).toContain('access_denied');
    expect(existsSync(loginFile(sb))).toBe(false);
  });

  it('--quiet prints only the sign-in address', async () => {
    const sb = machine();
    const r = await browserLogin(sb, person('quinn'), ['--quiet']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain('signed in to');
    expect(r.stderr).toMatch(/http:\/\/127\.0\.0\.1:\d+\/o\/oauth2\/v2\/auth\?/);
    expect(modeOf(loginFile(sb))).toBe(0o600);
  });
});

describe('studio-lite login --no-browser (copy and paste)', () => {
  it('takes the pasted redirected address, or just the code', async () => {
    const sb = machine();
    const bob = person('bob');
    const r = await pasteLogin(sb, bob, (u) => u.toString());
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`signed in to ${dep.url} as ${bob.email}`);
    expect(modeOf(loginFile(sb))).toBe(0o600);
    expect(readLogin(sb).email).toBe(bob.email);

    const sb2 = machine();
    // As copied from the address bar: still percent-encoded.
    const r2 = await pasteLogin(sb2, bob, (u) => encodeURIComponent(u.searchParams.get('code') as string));
    expect(r2.code, r2.stderr).toBe(0);
    expect(readLogin(sb2).uid).toBe(readLogin(sb).uid);
    expect(dep.signIn?.google.violations).toEqual([]);
  });

  it('refuses an address with another state (a response to some other sign-in) and saves nothing', async () => {
    const sb = machine();
    const r = await pasteLogin(sb, person('eve'), (u) => {
      u.searchParams.set('state', 'someone-elses-state');
      return u.toString();
    });
    expect(r.code).toBe(1);
    const e = errorLine(r.stderr);
    expect(e.code).toBe('E_UNAUTHENTICATED');
    expect(e.message).toContain('state mismatch');
    expect(existsSync(loginFile(sb))).toBe(false);
  });
});

describe('automatic refresh of the Firebase ID token', () => {
  let sb: ReturnType<typeof machine>;
  let original: LoginJson;
  const expire = (l: LoginJson): LoginJson => {
    const past = Math.floor(Date.now() / 1000) - 7200;
    return {
      ...l,
      id_token: withClaims(l.id_token, { iat: past, auth_time: past, exp: past + 3600 }),
      expires_at: new Date((past + 3600) * 1000).toISOString(),
    };
  };

  beforeAll(async () => {
    sb = machine();
    const r = await browserLogin(sb, person('carol'));
    expect(r.code, r.stderr).toBe(0);
    original = readLogin(sb);
    await dep.accounts.setMembership(dep.team, original.uid, 'viewer');
  });

  it('an expired ID token is refreshed before the request; login.json is rewritten (still 0600)', async () => {
    const stale = expire(original);
    // The deployment itself refuses the stale token: only a refresh can make the next command work.
    const direct = await fetch(`${dep.url}/v1/whoami`, { headers: { authorization: `Bearer ${stale.id_token}` } });
    expect(direct.status).toBe(401);
    expect(((await direct.json()) as { error: { code: string } }).error.code).toBe('E_TOKEN_EXPIRED');
    writeLogin(sb, stale);

    await cliOk(sb, ['experiments', '--json']);
    const after = readLogin(sb);
    expect(modeOf(loginFile(sb))).toBe(0o600);
    expect(after.id_token).not.toBe(stale.id_token);
    expect(Date.parse(after.expires_at)).toBeGreaterThan(Date.now() + 50 * 60_000);
    expect(decodeClaims(after.id_token).sub).toBe(original.uid);
    expect(after).toMatchObject({ uid: original.uid, email: original.email, refresh_token: original.refresh_token });
  });

  it('an invalid refresh token gives E_UNAUTHENTICATED telling to log in again; login.json is left alone', async () => {
    const bad = { ...expire(original), refresh_token: 'not-a-refresh-token' };
    writeLogin(sb, bad);
    const r = await cli(sb, ['experiments', '--json']);
    expect(r.code).toBe(1);
    const e = errorLine(r.stderr);
    expect(e.code).toBe('E_UNAUTHENTICATED');
    expect(e.message).toContain('INVALID_REFRESH_TOKEN');
    expect(e.message).toContain(`run \`studio-lite login ${dep.url}\` again`);
    expect(readLogin(sb)).toEqual(bad);
  });

  it('a disabled (revoked) account cannot refresh: the same stable error', async () => {
    writeLogin(sb, expire(original));
    await setUserDisabled(dep.signIn?.authHost as string, dep.signIn?.projectId as string, original.uid, true);
    try {
      const r = await cli(sb, ['experiments', '--json']);
      expect(r.code).toBe(1);
      const e = errorLine(r.stderr);
      expect(e.code).toBe('E_UNAUTHENTICATED');
      expect(e.message).toContain('USER_DISABLED');
      expect(e.message).toContain('studio-lite login');
    } finally {
      await setUserDisabled(dep.signIn?.authHost as string, dep.signIn?.projectId as string, original.uid, false);
    }
  });
});

describe('a backend without browser sign-in', () => {
  it('login without a token says to use --token (studio-lite serve)', async () => {
    const server = makeSandbox();
    sandboxes.push(server);
    const port = await freePort();
    const child = startCli(server, ['serve', '--port', String(port)]);
    const out = collect(child);
    try {
      await waitFor(() => out.stdoutSoFar().includes('listening on'), 'serve to listen');
      const r = await cli(machine(), ['login', `http://127.0.0.1:${port}`]);
      expect(r.code).toBe(1);
      const e = errorLine(r.stderr);
      expect(e.code).toBe('E_UNAUTHENTICATED');
      expect(e.message).toContain('offers no browser sign-in');
    } finally {
      child.kill('SIGTERM');
      await out;
    }
  });
});
