/** Repeatable flags (`-c a -c b`) collect into a list. */
export const collect = (value: string, prev: string[]) => [...prev, value];

/** Studio spelled capture-once `-co`; commander only knows one-letter short flags. */
export function normalizeArgv(argv: string[]): string[] {
  return argv.map((a) => (a === '-co' ? '--capture-once' : a.startsWith('-co=') ? `--capture-once=${a.slice(4)}` : a));
}

/** The raw words after `run`, so `run -- CMD` can be told from `run SCRIPT.py`. */
export function rawAfterRun(): string[] {
  const argv = normalizeArgv(process.argv.slice(2));
  const i = argv.indexOf('run');
  return i === -1 ? [] : argv.slice(i + 1);
}
