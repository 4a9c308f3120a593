import { spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { delimiter, dirname } from 'node:path';
import { readSavedLogin, sameApiUrl } from '../../auth/saved-login.ts';
import type { CliConfig } from '../../config.ts';
import { cliPaths } from '../../home/cli-home.ts';
import { pythonPackageDir } from '../../session/artifact-env.ts';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface Check {
  name: 'node' | 'python3' | 'home' | 'backend' | 'login';
  status: CheckStatus;
  detail: string;
  hint?: string;
}

const MIN_NODE_MAJOR = 20;

/** Node's version against the package's engines range. */
export function checkNode(version = process.versions.node): Check {
  const major = Number(version.split('.')[0]);
  return major >= MIN_NODE_MAJOR
    ? { name: 'node', status: 'ok', detail: `v${version}` }
    : {
        name: 'node',
        status: 'fail',
        detail: `v${version}`,
        hint: `studio-lite needs Node.js ${MIN_NODE_MAJOR} or later`,
      };
}

/** python3 on PATH, and the `studio` package (fs_tracker) importable the way `run` sets PYTHONPATH. */
export function checkPython(env: NodeJS.ProcessEnv = process.env): Check {
  const pkg = pythonPackageDir();
  const r = spawnSync('python3', ['-c', 'import sys, studio.fs_tracker; print(sys.version.split()[0])'], {
    env: { ...env, PYTHONPATH: [pkg, env.PYTHONPATH].filter(Boolean).join(delimiter) },
    encoding: 'utf8',
    timeout: 10_000,
  });
  if (r.error) {
    return {
      name: 'python3',
      status: 'warn',
      detail: `not found (${(r.error as NodeJS.ErrnoException).code ?? r.error.message})`,
      hint: 'install Python 3 to run .py scripts; `run -- CMD` works without it',
    };
  }
  if (r.status !== 0) {
    const last = r.stderr.trim().split('\n').at(-1) ?? '';
    return { name: 'python3', status: 'fail', detail: `cannot import studio.fs_tracker from ${pkg}: ${last}` };
  }
  return { name: 'python3', status: 'ok', detail: `${r.stdout.trim()}, studio.fs_tracker from ${pkg}` };
}

/** The home folder: it (or its parent) must be writable, and private (0700) since it holds tokens. */
export function checkHome(home: string): Check {
  if (!existsSync(home)) {
    const parent = dirname(home);
    try {
      accessSync(parent, constants.W_OK);
      return { name: 'home', status: 'ok', detail: `${home} (created on first use)` };
    } catch {
      return { name: 'home', status: 'fail', detail: `${home} does not exist and its parent is not writable` };
    }
  }
  const st = statSync(home);
  if (!st.isDirectory()) return { name: 'home', status: 'fail', detail: `${home} is not a folder` };
  try {
    accessSync(home, constants.W_OK);
  } catch {
    return { name: 'home', status: 'fail', detail: `${home} is not writable by you` };
  }
  const mode = st.mode & 0o777;
  const creds = cliPaths(home).credentials;
  const credMode = existsSync(creds) ? statSync(creds).mode & 0o777 : null;
  if (credMode !== null && (credMode & 0o077) !== 0) {
    return {
      name: 'home',
      status: 'fail',
      detail: `${creds} is mode ${credMode.toString(8)}: other users can read your token`,
      hint: `chmod 600 ${creds}`,
    };
  }
  if ((mode & 0o077) !== 0) {
    return {
      name: 'home',
      status: 'warn',
      detail: `${home} is mode ${mode.toString(8)}: other users can read your experiments' files`,
      hint: `chmod 700 ${home}`,
    };
  }
  return { name: 'home', status: 'ok', detail: `${home} (mode ${mode.toString(8)})` };
}

/** Which backend commands talk to, and where that choice came from. */
export function checkBackend(cfg: CliConfig, env: NodeJS.ProcessEnv = process.env): Check {
  if (!cfg.apiUrl) return { name: 'backend', status: 'ok', detail: `embedded (local files in ${cfg.home})` };
  const from = env.STUDIOML_API_URL ? '$STUDIOML_API_URL' : readSavedLogin(cfg.home) ? 'login' : 'config api_url';
  let valid = true;
  try {
    new URL(cfg.apiUrl);
  } catch {
    valid = false;
  }
  return valid
    ? { name: 'backend', status: 'ok', detail: `deployment ${cfg.apiUrl} (from ${from})` }
    : { name: 'backend', status: 'fail', detail: `${cfg.apiUrl} (from ${from}) is not a URL` };
}

/** Whether a deployment has credentials; read locally, never over the network, so doctor stays instant. */
export function checkLogin(cfg: CliConfig, env: NodeJS.ProcessEnv = process.env, now = Date.now()): Check {
  if (!cfg.apiUrl) {
    const creds = cliPaths(cfg.home).credentials;
    return {
      name: 'login',
      status: 'ok',
      detail: existsSync(creds) ? 'local token in credentials.json' : 'local token created on first use',
    };
  }
  if (env.STUDIOML_TOKEN) return { name: 'login', status: 'ok', detail: 'token from $STUDIOML_TOKEN' };
  const saved = readSavedLogin(cfg.home);
  if (!saved || !sameApiUrl(saved.api_url, cfg.apiUrl)) {
    return {
      name: 'login',
      status: 'fail',
      detail: `not logged in to ${cfg.apiUrl}`,
      hint: `run \`studio-lite login ${cfg.apiUrl}\``,
    };
  }
  if (saved.kind === 'firebase') {
    const left = Date.parse(saved.expires_at) - now;
    return {
      name: 'login',
      status: 'ok',
      detail: `signed in with Google as ${saved.email ?? saved.uid} (ID token ${left > 0 ? 'valid' : 'refreshed on next use'})`,
    };
  }
  return { name: 'login', status: 'ok', detail: 'personal access token in login.json' };
}
