import { sanitize } from './sanitize.ts';

/** The CLI's only output channel for diagnostics (stderr); library code receives it, never prints itself. */
export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
  debug(msg: string): void;
  readonly quiet: boolean;
  /** True when live progress may be drawn (stderr is a TTY and not quiet). */
  readonly progress: boolean;
}

export function createLogger(opts: { quiet?: boolean; debug?: boolean } = {}): Logger {
  const quiet = Boolean(opts.quiet);
  // Messages quote names, hosts and server errors: each line is sanitized, the lines of the message kept.
  const write = (s: string) => process.stderr.write(`${s.split('\n').map(sanitize).join('\n')}\n`);
  return {
    quiet,
    progress: !quiet && Boolean(process.stderr.isTTY),
    info: (m) => {
      if (!quiet) write(m);
    },
    warn: (m) => write(`warning: ${m}`),
    debug: (m) => {
      if (opts.debug) write(`debug: ${m}`);
    },
  };
}
