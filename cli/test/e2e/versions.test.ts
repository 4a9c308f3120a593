// Versions users can name: `ls EXP/TAG[@V]` lists a version's files; `diff` says what changed between two versions.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliOk, errorLine, makeSandbox, removeSandbox } from './helpers.ts';

let sb: ReturnType<typeof makeSandbox>;
let dir: string;
beforeAll(async () => {
  sb = makeSandbox();
  dir = join(sb.tmp(), 'd');
  mkdirSync(dir);
  writeFileSync(join(dir, 'a.txt'), 'aaa');
  writeFileSync(join(dir, 'b.txt'), 'bb');
  await cliOk(sb, ['run', '-q', '-e', 'lr', '-c', `${dir}:w`, '--', 'true']);
  writeFileSync(join(dir, 'a.txt'), 'aaaa');
  rmSync(join(dir, 'b.txt'));
  writeFileSync(join(dir, 'c.txt'), 'c');
  await cliOk(sb, ['run', '-q', '-e', 'lr', '--resume', '-c', `${dir}:w`, '--', 'true']);
  await cliOk(sb, ['run', '-q', '-e', 'other', '-c', `${dir}:w`, '--', 'true']);
});
afterAll(() => removeSandbox(sb));

const json = async (args: string[]) => JSON.parse((await cliOk(sb, args)).stdout);

describe('ls', () => {
  it('lists the files of a version, latest by default or with @latest', async () => {
    const v1 = await json(['ls', 'lr/w@1', '--json']);
    expect(v1.version).toBe(1);
    expect(v1.files.map((f: { path: string; size: number }) => [f.path, f.size])).toEqual([
      ['a.txt', 3],
      ['b.txt', 2],
    ]);
    for (const ref of ['lr/w', 'lr/w@latest']) expect((await json(['ls', ref, '--json'])).version).toBe(2);
    const text = (await cliOk(sb, ['ls', 'lr/w@2'])).stdout;
    expect(text.split('\n')[0]).toMatch(/^lr\/w@2 {2}2 files, 5 B, /);
  });

  it('a missing version is E_NOT_FOUND, exit 2', async () => {
    const r = await cli(sb, ['ls', 'lr/w@9']);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr).code).toBe('E_NOT_FOUND');
  });
});

describe('diff', () => {
  const expected = {
    added: [{ path: 'c.txt', before: null, after: 1 }],
    removed: [{ path: 'b.txt', before: 2, after: null }],
    changed: [{ path: 'a.txt', before: 3, after: 4 }],
    unchanged: 0,
  };

  it('between two named versions (--json)', async () => {
    const d = await json(['diff', 'lr/w@1', 'lr/w@2', '--json']);
    expect(d).toMatchObject(expected);
    expect(d.from).toEqual({ experiment: 'lr', tag: 'w', version: 1, files: 2, bytes: 5 });
    expect(d.to).toEqual({ experiment: 'lr', tag: 'w', version: 2, files: 2, bytes: 5 });
  });

  it('alone: against the version before', async () => {
    expect(await json(['diff', 'lr/w', '--json'])).toMatchObject(expected);
    const text = (await cliOk(sb, ['diff', 'lr/w@2'])).stdout;
    expect(text).toBe(
      [
        'lr/w@1 -> lr/w@2: 1 added, 1 removed, 1 changed, 0 unchanged; 5 B -> 5 B',
        '+ c.txt  1 B',
        '- b.txt  2 B',
        '~ a.txt  3 B -> 4 B',
        'added 1 B, removed 2 B',
        '',
      ].join('\n'),
    );
  });

  it('across experiments: identical content is no change', async () => {
    const d = await json(['diff', 'lr/w@2', 'other/w@1', '--json']);
    expect(d).toMatchObject({ added: [], removed: [], changed: [], unchanged: 2 });
  });
});
