import { type CliConfig, loadConfig } from '../config.ts';
import { type Connection, connect } from '../connect.ts';
import { createLogger, type Logger } from '../logger.ts';

export interface GlobalOpts {
  config?: string;
  quiet?: boolean;
  debug?: boolean;
}

/** Loads config, opens the backend connection, runs `fn`, always closes. */
export async function withConnection<T>(
  opts: GlobalOpts,
  fn: (c: Connection, cfg: CliConfig, log: Logger) => Promise<T>,
): Promise<T> {
  const cfg = loadConfig(opts.config);
  const log = createLogger({ quiet: opts.quiet, debug: opts.debug });
  const conn = await connect(cfg);
  try {
    return await fn(conn, cfg, log);
  } finally {
    await conn.close();
  }
}
