// docs/cli.md documents every command and flag that `--help` shows, and nothing else. When this fails, the message
// lists exactly which flags are missing where (other changes add flags; they must add the docs with them).
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import { BIN, REPO } from './helpers.ts';

/** Flags every command accepts; documented once under "Global flags". */
const GLOBAL = ['--config', '--quiet', '--debug', '--team', '--help', '--version'];

function help(words: string[]): string {
  const r = spawnSync(process.execPath, [BIN, ...words, '--help'], {
    encoding: 'utf8',
    env: { ...process.env, COLUMNS: '200' },
  });
  if (r.status !== 0) throw new Error(`studio-lite ${words.join(' ')} --help exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** The lines of one `Options:` or `Commands:` block. */
function block(text: string, title: string): string[] {
  const lines = text.split('\n');
  const start = lines.indexOf(`${title}:`);
  if (start === -1) return [];
  const out: string[] = [];
  for (const l of lines.slice(start + 1)) {
    if (l.trim() === '') break;
    out.push(l);
  }
  return out;
}

const longFlags = (lines: string[]) =>
  lines.flatMap((l) => [...(/^ {2}(?:-\w, )?(--[a-z][a-z0-9-]*)/.exec(l) ?? [])].slice(1));
const subcommands = (lines: string[]) =>
  lines.map((l) => /^ {2}([a-z][a-z-]*)\b/.exec(l)?.[1]).filter((c): c is string => !!c && c !== 'help');

/** Every command path with its long flags, from the real binary's help. */
function commandsFromHelp(): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const walk = (words: string[]) => {
    const text = help(words);
    const subs = subcommands(block(text, 'Commands'));
    if (words.length > 0 && subs.length === 0) out.set(words.join(' '), longFlags(block(text, 'Options')));
    for (const s of subs) walk([...words, s]);
  };
  walk([]);
  out.set('', longFlags(block(help([]), 'Options')));
  return out;
}

/** Sections `### \`studio-lite CMD\`` of docs/cli.md and the long flags each mentions. */
function commandsFromDocs(md: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  const parts = md.split(/^(?=#{2,3} )/m);
  for (const p of parts) {
    const h = /^#{2,3} `studio-lite(?: ([a-z -]+))?`/.exec(p);
    const global = /^#{2,3} Global flags/.exec(p);
    if (!h && !global) continue;
    const name = global ? '' : (h?.[1] ?? '').trim();
    out.set(name, [...new Set(p.match(/(?<![\w-])--[a-z][a-z0-9-]*/g) ?? [])]);
  }
  return out;
}

it('docs/cli.md documents every command and flag of --help, and only those', () => {
  const fromHelp = commandsFromHelp();
  const fromDocs = commandsFromDocs(readFileSync(join(REPO, 'docs', 'cli.md'), 'utf8'));
  const problems: string[] = [];
  for (const [cmd, flags] of fromHelp) {
    const label = cmd === '' ? 'Global flags' : `studio-lite ${cmd}`;
    const documented = fromDocs.get(cmd);
    if (!documented) {
      problems.push(`${label}: no section in docs/cli.md (add one listing: ${flags.join(' ')})`);
      continue;
    }
    const own = cmd === '' ? flags : flags.filter((f) => !GLOBAL.includes(f));
    const missing = own.filter((f) => !documented.includes(f));
    if (missing.length) problems.push(`${label}: in --help but not in docs/cli.md: ${missing.join(' ')}`);
    if (cmd !== '') {
      // A section may mention globals and other commands' flags in prose only through `studio-lite OTHER --flag`.
      const extra = documented.filter((f) => !flags.includes(f) && !GLOBAL.includes(f));
      if (extra.length) problems.push(`${label}: in docs/cli.md but not in --help: ${extra.join(' ')}`);
    }
  }
  for (const cmd of fromDocs.keys()) {
    if (!fromHelp.has(cmd)) problems.push(`docs/cli.md documents \`studio-lite ${cmd}\`, which --help does not list`);
  }
  expect(problems, `docs/cli.md and --help disagree:\n${problems.join('\n')}`).toEqual([]);
});
