import { type CliConfig, loadConfig } from '../config.ts';
import { type Connection, type ConnectOptions, connect } from '../connect.ts';
import { createLogger, type Logger } from '../logger.ts';

export interface GlobalOpts {
  config?: string;
  quiet?: boolean;
  debug?: boolean;
}

/**
 * Loads config, opens the backend connection, runs `fn`, always closes. A command that fetches or uploads blobs
 * through signed URLs says `{ transfers: true }`; the others get the embedded backend in-process (connect.ts).
 */
export async function withConnection<T>(
  opts: GlobalOpts,
  fn: (c: Connection, cfg: CliConfig, log: Logger) => Promise<T>,
  connectOpts: ConnectOptions = { transfers: false },
): Promise<T> {
  const cfg = await loadConfig(opts.config);
  const log = createLogger({ quiet: opts.quiet, debug: opts.debug });
  const conn = await connect(cfg, connectOpts);
  try {
    return await fn(conn, cfg, log);
  } finally {
    await conn.close();
  }
}
