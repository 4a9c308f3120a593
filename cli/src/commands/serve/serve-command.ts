import { hostname } from 'node:os';
import { StudioError } from '@studio-lite/functions/contract';
import { ensureLocalCredentials, startLocalServer } from '@studio-lite/functions/local';
import { loadConfig } from '../../config.ts';
import { withHint } from '../../exit-error.ts';
import { ensurePrivateHome } from '../../home/private-home.ts';
import { recordUiServer } from '../../home/ui-server-file.ts';
import { createLogger } from '../../logger.ts';
import type { GlobalOpts } from '../../shared/with-connection.ts';

const WILDCARD = new Set(['0.0.0.0', '::', '[::]']);

/** `--public-url`: an http(s) URL without path, query or credentials. Throws E_BAD_REQUEST. */
export function parsePublicUrl(s: string): string {
  let u: URL;
  try {
    u = new URL(s);
  } catch {
    throw new StudioError('E_BAD_REQUEST', `invalid --public-url "${s}"`);
  }
  if (!['http:', 'https:'].includes(u.protocol) || u.username || u.password || u.search || u.pathname !== '/') {
    throw new StudioError('E_BAD_REQUEST', `--public-url must be http(s)://host[:port] (got "${s}")`);
  }
  return u.origin;
}

/**
 * `studio-lite serve`: the local backend as a long-running server until SIGINT/SIGTERM. With `--listen` on a
 * network address it serves a shared box: users created with `studio-lite user add` connect with their own tokens
 * (docs/security.md). Signed URLs point at `--public-url` (default: the bound address, or this host's name when
 * bound to every interface).
 */
export async function serveCommand(opts: GlobalOpts & { port?: number; listen?: string; publicUrl?: string }) {
  const cfg = await loadConfig(opts.config);
  const log = createLogger({ quiet: opts.quiet, debug: opts.debug });
  const host = opts.listen ?? '127.0.0.1';
  const port = opts.port ?? 8765;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new StudioError('E_BAD_REQUEST', `invalid --port "${opts.port}"`);
  }
  let publicUrl = opts.publicUrl === undefined ? undefined : parsePublicUrl(opts.publicUrl);
  await ensurePrivateHome(cfg.home);
  const server = await startLocalServer({
    home: cfg.home,
    port,
    host,
    ...(publicUrl ? { publicUrl } : {}),
    // Retention policies are applied now and daily by serve (and by `retention apply`), never by other commands.
    retentionSchedule: true,
    log: (m, e) => log.warn(`${m}: ${(e as Error)?.stack ?? e}`),
  }).catch((cause: NodeJS.ErrnoException) => {
    const why: Record<string, [string, string]> = {
      EADDRINUSE: [
        'the port is in use',
        `another program (or studio-lite serve) has it: choose a free one with --port N`,
      ],
      EADDRNOTAVAIL: ['no such address on this machine', 'pass --listen with an address of this machine, e.g. 0.0.0.0'],
      EACCES: ['permission denied', 'ports below 1024 need privileges: choose --port 1024 or above'],
    };
    const known = cause.code ? why[cause.code] : undefined;
    if (known) {
      const err = new StudioError('E_UNAVAILABLE', `cannot listen on ${host}:${port}: ${known[0]}`, { cause });
      throw withHint(err, known[1]);
    }
    throw cause;
  });
  if (!publicUrl && WILDCARD.has(host)) {
    // Bound to every interface: "0.0.0.0" is no address for a client; name this machine instead.
    publicUrl = `http://${hostname()}:${new URL(server.url).port}`;
    log.warn(`signed URLs will point at ${publicUrl}; pass --public-url if clients reach this box by another name`);
  }
  await ensureLocalCredentials(cfg.home, server.backend.deps);
  // `studio-lite ui` finds this server through the record and signs the browser in here.
  const forget = recordUiServer(cfg.home, publicUrl ?? server.url);
  process.stdout.write(`studio-lite local backend listening on ${server.url}\n`);
  const reach = publicUrl ?? server.url;
  log.info(`point other processes at it with STUDIOML_API_URL=${reach} (token: $STUDIOML_HOME/credentials.json)`);
  if (host !== '127.0.0.1' && host !== 'localhost' && host !== '::1') {
    log.info(
      `shared box: create users with \`studio-lite user add <id> --team <team> --role editor\`; they use ` +
        `STUDIOML_API_URL=${reach} STUDIOML_TOKEN=<their token>. Traffic is plain HTTP: use it on a trusted network.`,
    );
  }
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  forget();
  await server.close();
}
