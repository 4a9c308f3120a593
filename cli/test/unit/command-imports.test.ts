// Commands are orchestration only: a command never imports another command's files, and the shared layers
// (session/, shared/, home/, artifacts/, …) never import a command. Only the command line (program/, lazily) loads them.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));

function tsFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? tsFiles(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : [],
  );
}

/** Relative import specifiers of a file (static, dynamic and re-exports), resolved to paths under src/. */
function importsOf(file: string): string[] {
  const text = readFileSync(file, 'utf8');
  const specs = [...text.matchAll(/(?:from|import)\s*\(?\s*'(\.[^']+)'/g)].map((m) => m[1] as string);
  return specs.map((s) =>
    relative(SRC, resolve(dirname(file), s))
      .split(sep)
      .join('/'),
  );
}

/** `commands/<name>/…` -> name; null outside commands/. */
const commandOf = (rel: string) => (rel.startsWith('commands/') ? (rel.split('/')[1] ?? null) : null);

describe('CLI layering', () => {
  const files = tsFiles(SRC).map((f) => ({ file: f, rel: relative(SRC, f).split(sep).join('/') }));

  it('finds the sources', () => {
    expect(files.some((f) => f.rel === 'commands/run/run-command.ts')).toBe(true);
  });

  it('no command imports another command', () => {
    const bad = files.flatMap(({ file, rel }) => {
      const own = commandOf(rel);
      if (!own) return [];
      return importsOf(file)
        .filter((to) => commandOf(to) !== null && commandOf(to) !== own)
        .map((to) => `${rel} -> ${to}`);
    });
    expect(bad).toEqual([]);
  });

  it('nothing outside commands/ imports a command, except the command line (program/)', () => {
    const bad = files.flatMap(({ file, rel }) =>
      commandOf(rel) || rel.startsWith('program/')
        ? []
        : importsOf(file)
            .filter((to) => commandOf(to) !== null)
            .map((to) => `${rel} -> ${to}`),
    );
    expect(bad).toEqual([]);
  });
});
