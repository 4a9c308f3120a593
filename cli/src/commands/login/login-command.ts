import { rmSync } from 'node:fs';
import { homePaths, writePrivateFile } from '@studio-lite/functions/adapters/local/local-home.ts';
import { StudioError } from '@studio-lite/functions/core/errors.ts';
import { ApiClient } from '../../api-client.ts';
import { loadConfig } from '../../config.ts';
import { createLogger } from '../../logger.ts';
import type { GlobalOpts } from '../with-connection.ts';

/**
 * `studio-lite login <api-url> --token T`: checks the token against the deployment (whoami) and saves both in
 * $STUDIOML_HOME/login.json (0600); later commands talk to that deployment. Browser sign-in comes with Firebase Auth.
 */
export async function loginCommand(apiUrl: string, opts: GlobalOpts & { token?: string; team?: string }) {
  const cfg = loadConfig(opts.config);
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
  const token = opts.token ?? process.env.STUDIOML_TOKEN;
  if (!token) {
    throw new StudioError('E_UNAUTHENTICATED', 'give a personal access token with --token (or STUDIOML_TOKEN)');
  }
  const base = url.toString().replace(/\/$/, '');
  const who = await new ApiClient(base, token, opts.team ?? cfg.team).whoami();
  writePrivateFile(homePaths(cfg.home).login, `${JSON.stringify({ api_url: base, token }, null, 2)}\n`);
  log.info(`logged in to ${base} as ${who.principal.userId} (team ${who.team})`);
}

/** `studio-lite logout`: forgets the deployment login; the embedded backend is used again. */
export async function logoutCommand(opts: GlobalOpts) {
  const cfg = loadConfig(opts.config);
  rmSync(homePaths(cfg.home).login, { force: true });
  createLogger({ quiet: opts.quiet }).info('logged out; commands use the embedded local backend again');
}
