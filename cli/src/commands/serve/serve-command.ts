import { ensureLocalCredentials } from '@studio-lite/functions/adapters/local/local-backend.ts';
import { startLocalServer } from '@studio-lite/functions/hosts/local-server/server.ts';
import { loadConfig } from '../../config.ts';
import { createLogger } from '../../logger.ts';
import type { GlobalOpts } from '../with-connection.ts';

/** `studio-lite serve`: the local backend as a long-running server until SIGINT/SIGTERM. */
export async function serveCommand(opts: GlobalOpts & { port?: number; listen?: string }) {
  const cfg = loadConfig(opts.config);
  const log = createLogger({ quiet: opts.quiet, debug: opts.debug });
  const server = await startLocalServer({
    home: cfg.home,
    port: opts.port ?? 8765,
    host: opts.listen ?? '127.0.0.1',
    log: (m, e) => log.warn(`${m}: ${(e as Error)?.stack ?? e}`),
  });
  await ensureLocalCredentials(cfg.home, server.backend.deps);
  process.stdout.write(`studio-lite local backend listening on ${server.url}\n`);
  log.info(`point other processes at it with STUDIOML_API_URL=${server.url} (token: $STUDIOML_HOME/credentials.json)`);
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await server.close();
}
