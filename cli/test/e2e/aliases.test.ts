// Version aliases with the real binary (issue 13): `alias exp/w@1 best`, `--reuse=exp/w@best:w` gets that version's
// files and follows a move, `pull`, `ls` and `diff` take @best and @latest, bad names are refused before anything is
// stored, every --json is one documented object, and the audit log shows each set, move and delete.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliOk, errorLine, makeSandbox, removeSandbox, showJson } from './helpers.ts';

let sb: ReturnType<typeof makeSandbox>;
let dir: string;
beforeAll(async () => {
  sb = makeSandbox();
  dir = join(sb.tmp(), 'w');
  mkdirSync(dir);
  writeFileSync(join(dir, 'weights.txt'), 'one');
  await cliOk(sb, ['run', '-q', '-e', 'exp', '-c', `${dir}:w`, '--', 'true']);
  writeFileSync(join(dir, 'weights.txt'), 'two');
  await cliOk(sb, ['run', '-q', '-e', 'exp', '--resume', '-c', `${dir}:w`, '--', 'true']);
});
afterAll(() => removeSandbox(sb));

const json = async (args: string[]) => JSON.parse((await cliOk(sb, args)).stdout);

/** Rows of the alias table (what a refused command must leave as it was). */
function aliasRows(): unknown[] {
  const db = new Database(join(sb.home, 'db', 'studio.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return db.prepare('SELECT * FROM aliases ORDER BY experiment, tag, name').all();
  } finally {
    db.close();
  }
}

/** A run that reuses REF as `w` and prints the reused file. */
async function reusedContent(key: string, ref: string): Promise<string> {
  const script =
    "const fs=require('fs');const m=JSON.parse(fs.readFileSync(process.env.STUDIOML_ARTIFACT_MAPPING,'utf8'));" +
    "process.stdout.write('GOT:'+fs.readFileSync(m.w+'/weights.txt','utf8')+'\\n')";
  const r = await cliOk(sb, ['run', '-q', '-e', key, `--reuse=${ref}:w`, '--', process.execPath, '-e', script]);
  return /GOT:(.*)/.exec(r.stdout + r.stderr)?.[1] ?? '';
}

describe('set, reuse, move', () => {
  it('alias exp/w@1 best; --reuse=exp/w@best:w gets version 1; moved to @2 the next reuse gets version 2', async () => {
    const set = await cliOk(sb, ['alias', 'exp/w@1', 'best']);
    expect(set.stdout).toBe('exp/w@best -> @1 (new)\n');
    expect(await reusedContent('c1', 'exp/w@best')).toBe('one');
    expect((await showJson(sb, 'c1')).experiment.lineage).toEqual([
      { as: 'w', experiment: 'exp', tag: 'w', version: 1 },
    ]);

    const move = await cliOk(sb, ['alias', 'exp/w@2', 'best']);
    expect(move.stdout).toBe('exp/w@best -> @2 (moved from @1)\n');
    expect(await reusedContent('c2', 'exp/w@best')).toBe('two');
    expect(await reusedContent('c3', 'exp/w@latest')).toBe('two');
  });

  it('pull, ls and diff take @ALIAS and @latest', async () => {
    await cliOk(sb, ['alias', 'exp/w@1', 'first']);
    const out = join(sb.tmp(), 'p');
    const pulled = await json(['pull', 'exp/w@first', '-o', out, '--json']);
    expect(pulled.version).toBe(1);
    expect(readFileSync(join(out, 'weights.txt'), 'utf8')).toBe('one');
    const latest = join(sb.tmp(), 'l');
    expect((await json(['pull', 'exp/w@latest', '-o', latest, '--json'])).version).toBe(2);
    expect(readFileSync(join(latest, 'weights.txt'), 'utf8')).toBe('two');
    expect((await json(['ls', 'exp/w@first', '--json'])).version).toBe(1);
    const d = await json(['diff', 'exp/w@first', 'exp/w@latest', '--json']);
    expect([d.from.version, d.to.version, d.changed.map((c: { path: string }) => c.path)]).toEqual([
      1,
      2,
      ['weights.txt'],
    ]);
  });

  it('an alias can be set from @latest or another alias: it names that version, not the pointer', async () => {
    expect(await json(['alias', 'exp/w@latest', 'newest', '--json'])).toEqual({
      experiment: 'exp',
      tag: 'w',
      name: 'newest',
      from: null,
      to: 2,
    });
    expect((await json(['alias', 'exp/w@first', 'copy', '--json'])).to).toBe(1);
  });
});

describe('list, show, delete, --json shapes', () => {
  it('lists (table and JSON), show names the aliases of each version, --delete removes one', async () => {
    await cliOk(sb, ['alias', 'exp/w@1', 'gold']);
    const list = await json(['alias', 'exp/w', '--json']);
    expect(Object.keys(list)).toEqual(['experiment', 'tag', 'aliases']);
    expect(list.aliases.find((a: { name: string }) => a.name === 'gold')).toEqual({
      name: 'gold',
      version: 1,
      updatedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      updatedBy: 'local',
    });
    const text = (await cliOk(sb, ['alias', 'exp/w'])).stdout.split('\n');
    expect(text[0]).toMatch(/^ALIAS +VERSION +UPDATED +BY$/);
    expect(text.find((l) => l.startsWith('gold '))).toMatch(
      /^gold +@1 +\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d\d:\d\d +local$/,
    );

    const show = await showJson(sb, 'exp');
    const arts = (show as unknown as { artifacts: { tag: string; aliases: { name: string; version: number }[] }[] })
      .artifacts;
    const art = arts.find((a) => a.tag === 'w');
    expect(art?.aliases.find((a) => a.name === 'gold')?.version).toBe(1);
    const showText = (await cliOk(sb, ['show', 'exp'])).stdout;
    expect(showText).toMatch(/ALIASES/);
    expect(showText.split('\n').find((l) => l.startsWith('w@1 '))).toMatch(/gold/);

    expect(await json(['alias', '--delete', 'exp/w', 'gold', '--json'])).toEqual({
      experiment: 'exp',
      tag: 'w',
      name: 'gold',
      from: 1,
      to: null,
    });
    const gone = await cli(sb, ['alias', '--delete', 'exp/w', 'gold']);
    expect(gone.code).toBe(2);
    expect(errorLine(gone.stderr)).toEqual({ code: 'E_NOT_FOUND', message: 'alias exp/w@gold not found' });
    const refs = await cli(sb, ['pull', 'exp/w@gold', '-o', join(sb.tmp(), 'x')]);
    expect(refs.code).toBe(2);
    expect(errorLine(refs.stderr)).toEqual({ code: 'E_NOT_FOUND', message: 'alias exp/w@gold not found' });
  });

  it('an artifact without aliases', async () => {
    await cliOk(sb, ['run', '-q', '-e', 'bare', '-c', `${dir}:w`, '--', 'true']);
    expect((await cliOk(sb, ['alias', 'bare/w'])).stdout).toBe('bare/w has no aliases\n');
    expect(await json(['alias', 'bare/w', '--json'])).toEqual({ experiment: 'bare', tag: 'w', aliases: [] });
  });
});

describe('bad input: exact message, exit 2, nothing stored', () => {
  const nameRule = "start with a lower-case letter, then a-z, 0-9, '.', '_' or '-' (max 64)";
  it.each([
    [['alias', 'exp/w@1', 'Best'], 'E_BAD_ALIAS', `invalid alias "Best": ${nameRule}`],
    [['alias', 'exp/w@1', '42'], 'E_BAD_ALIAS', `invalid alias "42": ${nameRule}`],
    [['alias', 'exp/w@1', 'latest'], 'E_BAD_ALIAS', 'alias "latest" is reserved: it always means the newest version'],
    [['alias', 'exp/w@1', 'a/b'], 'E_BAD_ALIAS', `invalid alias "a/b": ${nameRule}`],
    [['alias', 'exp/w@Best', 'x'], 'E_BAD_ALIAS', `invalid alias "Best": ${nameRule}`],
    [['alias', 'exp/w@9', 'best'], 'E_NOT_FOUND', 'artifact exp/w@9 not found'],
    [['alias', 'exp/w@nosuch', 'best'], 'E_NOT_FOUND', 'alias exp/w@nosuch not found'],
    [['alias', 'nosuch/w@1', 'best'], 'E_NOT_FOUND', 'experiment nosuch not found'],
    [['alias', 'exp/w', 'best'], 'E_BAD_REQUEST', 'name the version: studio-lite alias exp/w@VERSION best'],
    [['alias', 'exp/w@1'], 'E_BAD_REQUEST', 'to point an alias at exp/w@1, name it: studio-lite alias exp/w@1 NAME'],
    [['alias', '--delete', 'exp/w'], 'E_BAD_REQUEST', 'alias --delete needs EXP/TAG NAME'],
    [
      ['run', '-e', 'bad1', '--reuse=exp/w@Best:w', '--', 'true'],
      'E_BAD_ALIAS',
      `invalid --reuse "exp/w@Best:w": invalid alias "Best": ${nameRule}`,
    ],
    [['run', '-e', 'bad2', '--reuse=exp/w@nosuch:w', '--', 'true'], 'E_NOT_FOUND', 'alias exp/w@nosuch not found'],
  ])('%j -> %s', async (args, code, message) => {
    const before = aliasRows();
    const r = await cli(sb, args);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLine(r.stderr)).toEqual({ code, message });
    if (code === 'E_BAD_ALIAS') {
      expect(r.stderr).toContain(
        '  hint: aliases look like best, prod.v2 or run-3; `studio-lite alias EXP/TAG` lists those an artifact has\n',
      );
    }
    expect(r.stdout).toBe('');
    expect(aliasRows()).toEqual(before);
    const key = args[0] === 'run' ? (args[2] as string) : null;
    if (key) expect((await cli(sb, ['show', key])).code).toBe(2); // no experiment was recorded
  });
});

describe('audit', () => {
  it('shows each set, move and delete with from and to', async () => {
    await cliOk(sb, ['alias', 'exp/w@1', 'audited']);
    await cliOk(sb, ['alias', 'exp/w@2', 'audited']);
    await cliOk(sb, ['alias', '--delete', 'exp/w', 'audited']);
    const { entries } = await json(['audit', '--json', '--limit', '50']);
    const mine = entries
      .filter((e: { target: string }) => e.target === 'exp/w@audited')
      .map((e: { action: string; details: unknown }) => [e.action, e.details])
      .reverse();
    expect(mine).toEqual([
      ['alias.set', { from: null, to: 1 }],
      ['alias.move', { from: 1, to: 2 }],
      ['alias.delete', { from: 2, to: null }],
    ]);
    const moves = (await cliOk(sb, ['audit', '--action', 'alias.move'])).stdout;
    expect(moves).toMatch(/alias\.move +local +exp\/w@audited +\{"from":1,"to":2\}/);
  });
});

describe('concurrent moves from several processes', () => {
  it('six CLIs move one alias at once: the last write wins and each move is audited exactly once, in one chain', async () => {
    const n = 6;
    const runs = await Promise.all(
      Array.from({ length: n }, (_, i) => cli(sb, ['alias', `exp/w@${(i % 2) + 1}`, 'race', '--json'])),
    );
    for (const r of runs) expect(r.code, r.stderr).toBe(0);
    const changes = runs.map((r) => JSON.parse(r.stdout) as { from: number | null; to: number });
    const { entries } = await json(['audit', '--json', '--action', 'alias.set', '--limit', '50']);
    const moves = (await json(['audit', '--json', '--action', 'alias.move', '--limit', '50'])).entries;
    const mine = [...entries, ...moves]
      .filter((e: { target: string }) => e.target === 'exp/w@race')
      .sort((a: { id: string }, b: { id: string }) => (a.id < b.id ? -1 : 1))
      .map((e: { details: { from: number | null; to: number } }) => e.details);
    // What each process was told is exactly what the log holds.
    expect(mine).toHaveLength(n);
    expect([...mine].sort(byJson)).toEqual([...changes].map(({ from, to }) => ({ from, to })).sort(byJson));
    // One chain (appends of different processes may land out of write order, so count instead of following ids):
    // one move started from nothing, and every version was left as often as it was reached, except the final one.
    const final = (await json(['alias', 'exp/w', '--json'])).aliases.find((a: { name: string }) => a.name === 'race');
    expect(mine.filter((d) => d.from === null)).toHaveLength(1);
    for (const v of [1, 2]) {
      const reached = mine.filter((d) => d.to === v).length;
      const left = mine.filter((d) => d.from === v).length;
      expect(reached - left, `version ${v}`).toBe(final.version === v ? 1 : 0);
    }
  });
});

const byJson = (a: unknown, b: unknown) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1);
