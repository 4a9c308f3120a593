import { StudioError } from '@studio-lite/functions/contract';
import type { CoreDeps } from '@studio-lite/functions/local';
import { loadConfig } from '../../config.ts';
import { table } from '../../format.ts';
import { cliPaths } from '../../home/cli-home.ts';
import { createLogger } from '../../logger.ts';
import { parseExpires, parseRole } from '../../shared/account-flags.ts';
import type { GlobalOpts } from '../../shared/with-connection.ts';

/** The config, if it points at the embedded backend (user commands write its database directly). */
async function embeddedOnly(sub: string, opts: GlobalOpts) {
  const cfg = await loadConfig(opts.config);
  if (cfg.apiUrl) {
    const why = process.env.STUDIOML_API_URL
      ? 'STUDIOML_API_URL is set'
      : 'a deployment login (or api_url in the config) is active';
    throw new StudioError(
      'E_BAD_REQUEST',
      `user ${sub} only works on the embedded backend, but ${why} (${cfg.apiUrl}): run it on the box that runs \`studio-lite serve\`, without STUDIOML_API_URL / after \`studio-lite logout\`; in a deployment people sign in themselves`,
    );
  }
  return cfg;
}

/**
 * `studio-lite user add ID`: on a shared box (the machine running `studio-lite serve --listen`), creates a user in
 * the embedded backend's database, optionally in a team, and prints their first personal token once. It writes the
 * local database directly, so it refuses to run against a deployment, where people sign in themselves.
 */
export async function userAddCommand(
  id: string,
  opts: GlobalOpts & { email?: string; name?: string; team?: string; role?: string; expires?: string; json?: boolean },
) {
  const cfg = await embeddedOnly('add', opts);
  const role = opts.role === undefined ? undefined : parseRole(opts.role);
  const expiresInSeconds = opts.expires === undefined ? undefined : parseExpires(opts.expires);
  const log = createLogger({ quiet: opts.quiet, debug: opts.debug });
  const { addLocalUser, openLocalBackend } = await import('@studio-lite/functions/local');
  // No host is started: nothing here signs URLs.
  const backend = openLocalBackend(cfg.home, { publicUrl: () => 'http://127.0.0.1' });
  try {
    const r = await addLocalUser(backend.deps, cfg.home, {
      id,
      email: opts.email,
      name: opts.name,
      team: opts.team,
      role,
      expiresInSeconds,
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      return;
    }
    const where = r.team ? ` (${r.role} in team ${r.team})` : ' (no team yet)';
    process.stdout.write(
      [
        r.secret,
        '',
        `created user ${r.user.id}${where}; token ${r.token.id} expires ${r.token.expiresAt?.slice(0, 10)}`,
        'This secret cannot be shown again: hand it to the user now (only its hash is kept).',
        '',
      ].join('\n'),
    );
    log.info(
      `they connect with: STUDIOML_API_URL=http://<this-box>:<port> STUDIOML_TOKEN=<secret> studio-lite experiments` +
        `\n(database: ${cliPaths(cfg.home).db})`,
    );
  } finally {
    await backend.close();
  }
}

/** Opens the box's backend (no host: nothing here signs URLs), runs `fn`, closes it. */
async function withBox<T>(home: string, fn: (deps: CoreDeps) => Promise<T>) {
  const { openLocalBackend } = await import('@studio-lite/functions/local');
  const backend = openLocalBackend(home, { publicUrl: () => 'http://127.0.0.1' });
  try {
    return await fn(backend.deps);
  } finally {
    await backend.close();
  }
}

/** `studio-lite user list`: the box's users, their teams and live personal tokens. */
export async function userListCommand(opts: GlobalOpts & { json?: boolean }) {
  const cfg = await embeddedOnly('list', opts);
  const { listLocalUsers } = await import('@studio-lite/functions/local');
  const users = await withBox(cfg.home, (deps) => listLocalUsers(deps, cfg.home));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ users }, null, 2)}\n`);
    return;
  }
  const rows = users.map((u) => [
    u.id,
    u.email ?? '-',
    Object.entries(u.teams)
      .map(([t, r]) => `${t}:${r}`)
      .join(',') || '-',
    String(u.liveTokens),
  ]);
  process.stdout.write(`${table(['USER', 'EMAIL', 'TEAMS', 'LIVE TOKENS'], rows)}\n`);
}

/** `studio-lite user remove ID`: out of every team, every token revoked (offboarding on a shared box). */
export async function userRemoveCommand(id: string, opts: GlobalOpts & { json?: boolean }) {
  const cfg = await embeddedOnly('remove', opts);
  const { removeLocalUser } = await import('@studio-lite/functions/local');
  const r = await withBox(cfg.home, (deps) => removeLocalUser(deps, cfg.home, id));
  if (opts.json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  const teams = Object.keys(r.teams);
  process.stdout.write(
    `removed user ${r.userId} from ${teams.length ? teams.join(', ') : 'no team'}; revoked ${r.revokedTokens} token(s)\n`,
  );
}
