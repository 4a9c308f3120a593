import type { Command } from 'commander';

/** Every command's flags: its own merged over the global ones (given before or after the command name). */
// biome-ignore lint/suspicious/noExplicitAny: commander hands over untyped option bags; each command types its own.
export type Flags = any;

/** commander calls an action with the arguments, the command's own options and the command: args + merged flags. */
function split(all: unknown[]): { args: unknown[]; flags: Flags } {
  const cmd = all[all.length - 1] as Command;
  const own = all[all.length - 2] as Record<string, unknown>;
  return { args: all.slice(0, -2), flags: { ...cmd.optsWithGlobals(), ...own } };
}

/** Wraps a command's action once for all: the command gets its arguments and one merged flag object. */
export function act(fn: (...args: Flags[]) => Promise<unknown>) {
  return async (...all: unknown[]): Promise<void> => {
    const { args, flags } = split(all);
    await fn(...args, flags);
  };
}

/** As act() for a command whose result is the exit code (run, worker, logs): set here, applied by main(). */
export function actWithExit(fn: (...args: Flags[]) => Promise<number>) {
  return async (...all: unknown[]): Promise<void> => {
    const { args, flags } = split(all);
    process.exitCode = await fn(...args, flags);
  };
}
