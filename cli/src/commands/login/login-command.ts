import { rmSync } from 'node:fs';
import { StudioError, type WhoAmIResponse } from '@studio-lite/functions/contract';
import { ApiClient } from '../../api-client.ts';
import { fetchAuthConfig } from '../../auth/auth-config.ts';
import { saveLogin } from '../../auth/saved-login.ts';
import { loadConfig } from '../../config.ts';
import { cliPaths } from '../../home/cli-home.ts';
import { createLogger } from '../../logger.ts';
import type { GlobalOpts } from '../../shared/with-connection.ts';
import { googleLogin } from './google-login.ts';
import { readSecret } from './read-secret.ts';

export interface LoginOpts extends GlobalOpts {
  /** Deprecated: the secret shows in `ps` and shell history; kept with a warning. */
  token?: string;
  /** Read the personal access token from standard input (or a prompt on a terminal). */
  withToken?: boolean;
  team?: string;
  /** false with --no-browser. */
  browser?: boolean;
  browserCommand?: string;
}

/**
 * `studio-lite login <api-url>`: with --with-token (standard input or a prompt, never argv) or STUDIOML_TOKEN checks a
 * personal access token against the
 * deployment; otherwise signs in with Google through the deployment's Firebase Authentication (browser with a
 * loopback redirect, or --no-browser copy-paste). Either way the result is saved in $STUDIOML_HOME/login.json (0600)
 * and later commands talk to that deployment.
 */
export async function loginCommand(apiUrl: string, opts: LoginOpts) {
  const cfg = await loadConfig(opts.config);
  const log = createLogger({ quiet: opts.quiet, debug: opts.debug });
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new StudioError('E_BAD_REQUEST', `"${apiUrl}" is not a URL`);
  }
  if (url.protocol !== 'https:' && !['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname)) {
    throw new StudioError('E_BAD_REQUEST', 'a deployment URL must use https (plain http only on loopback)');
  }
  const base = url.toString().replace(/\/$/, '');
  const team = opts.team ?? cfg.team;
  if (opts.token !== undefined) {
    log.warn(
      '--token puts the secret in the process list and your shell history: use `--with-token` (reads standard ' +
        'input, or prompts) or STUDIOML_TOKEN instead',
    );
  }
  const token = opts.withToken
    ? await readSecret('personal access token (input hidden): ')
    : (opts.token ?? process.env.STUDIOML_TOKEN);
  if (token) {
    const who = await new ApiClient(base, token, team).whoami();
    saveLogin(cfg.home, { api_url: base, token });
    log.info(`logged in to ${base} as ${who.principal.userId} (team ${who.team ?? 'none'})`);
    return;
  }
  const { firebase } = await fetchAuthConfig(base);
  if (!firebase) {
    throw new StudioError(
      'E_UNAUTHENTICATED',
      `${base} offers no browser sign-in: give a personal access token with --token (or STUDIOML_TOKEN)`,
    );
  }
  const login = await googleLogin(base, firebase, {
    browser: opts.browser !== false,
    browserCommand: opts.browserCommand,
    log,
  });
  // Checked before it is saved: a deployment that refuses the sign-in leaves the previous login in place.
  const who = await new ApiClient(base, login.id_token, team).whoami();
  saveLogin(cfg.home, login);
  log.info(`signed in to ${base} as ${login.email ?? login.uid}`);
  log.info(teamsLine(who, login.email));
}

function teamsLine(who: WhoAmIResponse, email: string | null): string {
  const teams = Object.entries(who.principal.teams);
  if (teams.length === 0) {
    return `not a member of any team yet: ask a team admin to add ${email ?? 'you'}`;
  }
  const list = teams.map(([t, role]) => `${t} (${role})`).join(', ');
  return who.team
    ? `teams: ${list}; commands act in ${who.team}`
    : `teams: ${list}; choose one with --team or STUDIOML_TEAM`;
}

/** `studio-lite logout`: forgets the deployment login; the embedded backend is used again. */
export async function logoutCommand(opts: GlobalOpts) {
  const cfg = await loadConfig(opts.config);
  rmSync(cliPaths(cfg.home).login, { force: true });
  createLogger({ quiet: opts.quiet }).info('logged out; commands use the embedded local backend again');
}
