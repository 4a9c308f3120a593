// What `run` starts: the command is resolved before an experiment is recorded, so a mistake costs no experiment key.
import { chmodSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliOk, errorLine, experimentsJson, makeSandbox, removeSandbox, showJson } from './helpers.ts';

let sb: ReturnType<typeof makeSandbox>;
beforeAll(() => {
  sb = makeSandbox();
  writeFileSync(join(sb.cwd, 'train.py'), 'import sys\nprint("py", sys.argv[1:])\n');
  // Bash-only syntax: `sh` or python3 would fail on it.
  writeFileSync(join(sb.cwd, 'job.sh'), '[[ -n x ]] && echo "bash 3 $1"\n');
  writeFileSync(join(sb.cwd, 'prep'), '#!/usr/bin/env bash\n[[ -n x ]] && echo "shebang 2"\n');
  writeFileSync(join(sb.cwd, 'notes.txt'), 'hello\n');
  writeFileSync(join(sb.cwd, 'tool'), '#!/bin/sh\necho tool ran\n');
  chmodSync(join(sb.cwd, 'tool'), 0o755);
  mkdirSync(join(sb.cwd, 'data'));
});
afterAll(() => removeSandbox(sb));

describe('run resolves the command before anything is stored', () => {
  it('run -e exp1 python3 train.py runs python3 train.py (not python3 python3 train.py)', async () => {
    const r = await cliOk(sb, ['run', '-q', '-e', 'exp1', 'python3', 'train.py', 'a']);
    expect(r.stdout).toContain("py ['a']");
    expect((await showJson(sb, 'exp1')).experiment.command).toEqual(['python3', 'train.py', 'a']);
  });

  it('run -- python3 train.py is not doubled either', async () => {
    const r = await cliOk(sb, ['run', '-q', '-e', 'exp2', '--', 'python3', 'train.py']);
    expect(r.stdout).toContain('py []');
  });

  it('run job.sh runs bash', async () => {
    const r = await cliOk(sb, ['run', '-q', '-e', 'sh1', 'job.sh', 'z']);
    expect(r.stdout).toContain('bash 3 z');
    expect((await showJson(sb, 'sh1')).experiment.command).toEqual(['bash', 'job.sh', 'z']);
  });

  it('a #! line is honoured (also on a file that is not executable)', async () => {
    const r = await cliOk(sb, ['run', '-q', '-e', 'sb1', 'prep']);
    expect(r.stdout).toContain('shebang 2');
    expect((await showJson(sb, 'sb1')).experiment.command).toEqual(['bash', 'prep']);
  });

  it('an executable runs itself', async () => {
    const r = await cliOk(sb, ['run', '-q', '-e', 'x1', 'tool']);
    expect(r.stdout).toContain('tool ran');
  });
});

describe('a command that cannot start: E_BAD_COMMAND, exit 2, nothing stored', () => {
  const cases: [string, string[], string][] = [
    ['a missing .py', ['-e', 'e9', 'nosuch.py'], `script nosuch.py not found in ${'<cwd>'}`],
    ['a missing command after --', ['-e', 'e9', '--', 'nosuchcmd'], 'command not found: nosuchcmd (not on PATH)'],
    ['a missing word', ['-e', 'e9', 'nosuchcmd'], 'nosuchcmd: no such file in <cwd> and no such command on PATH'],
    ['python3 with a missing script', ['-e', 'e9', 'python3', 'nosuch.py'], 'script nosuch.py not found in <cwd>'],
    ['a missing ./path after --', ['-e', 'e9', '--', './nope.sh'], './nope.sh not found in <cwd>'],
    [
      'a file that cannot be run',
      ['-e', 'e9', 'notes.txt'],
      "don't know how to run notes.txt: no #! line, not .py or .sh, and not executable (chmod +x it)",
    ],
    ['a folder', ['-e', 'e9', 'data'], 'data is a folder, not a script (run SCRIPT.py, SCRIPT.sh or -- CMD ARGS)'],
  ];

  it.each(cases)('%s', async (_name, words, message) => {
    const before = JSON.stringify(await experimentsJson(sb));
    const r = await cli(sb, ['run', ...words]);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toEqual({ code: 'E_BAD_COMMAND', message: message.replace('<cwd>', sb.cwd) });
    expect(r.stderr).toContain('hint: run SCRIPT.py (python3), SCRIPT.sh (bash)');
    expect(JSON.stringify(await experimentsJson(sb))).toBe(before);
    expect(existsSync(join(sb.home, 'experiments', 'e9'))).toBe(false);
  });

  it('the key stays free: the corrected retry runs under it', async () => {
    writeFileSync(join(sb.cwd, 'late.py'), 'print("late")\n');
    expect((await cli(sb, ['run', '-q', '-e', 'e10', 'nosuch.py'])).code).toBe(2);
    expect((await cliOk(sb, ['run', '-q', '-e', 'e10', 'late.py'])).stdout).toContain('late');
  });
});
