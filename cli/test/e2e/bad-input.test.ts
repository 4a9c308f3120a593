// Bad input to `run`: exit 2, one `studio-lite: E_CODE: message` line, and nothing stored.
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cli, cliOk, errorLine, experimentsJson, makeSandbox, removeSandbox, showJson } from './helpers.ts';

describe('run with bad input', () => {
  // One home for the whole table: an experiment `lr` with weights@1 to reuse from.
  let sb: ReturnType<typeof makeSandbox>;
  let before: string;
  let lrBefore: string;

  beforeAll(async () => {
    sb = makeSandbox();
    mkdirSync(join(sb.cwd, 'weights'));
    writeFileSync(join(sb.cwd, 'weights', 'w.bin'), 'weights v1');
    writeFileSync(join(sb.cwd, 'ok.py'), 'print("ran")\n');
    await cliOk(sb, ['run', '-q', '-c', './weights:weights', '-e', 'lr', 'ok.py']);
    before = JSON.stringify(await experimentsJson(sb));
    lrBefore = JSON.stringify(await showJson(sb, 'lr'));
  });
  afterAll(() => removeSandbox(sb));

  const cases: [string, string[], string][] = [
    ['--capture without a colon', ['--capture', 'weights'], 'E_BAD_TAG'],
    ['--capture of a missing path', ['--capture', './nope:w'], 'E_NOT_FOUND'],
    ['--capture with tag a/b', ['--capture', './weights:a/b'], 'E_BAD_TAG'],
    ['--capture with tag ..', ['--capture', './weights:..'], 'E_BAD_TAG'],
    ['--reuse of a missing experiment', ['--reuse', 'nosuch/tag:w'], 'E_NOT_FOUND'],
    ['--reuse of a missing tag', ['--reuse', 'lr/nosuchtag:w'], 'E_NOT_FOUND'],
    ['--reuse of a missing version', ['--reuse', 'lr/weights@99:w'], 'E_NOT_FOUND'],
    ['-e of an existing key', ['-e', 'lr'], 'E_EXPERIMENT_EXISTS'],
    ['-e ../x', ['-e', '../x'], 'E_BAD_KEY'],
  ];

  it.each(cases)('%s: exit 2, one error line, nothing stored', async (_name, flags, code) => {
    const r = await cli(sb, ['run', ...flags, 'ok.py']);
    expect(r.code).toBe(2);
    expect(r.stdout).not.toContain('ran');
    expect(errorLine(r.stderr).code).toBe(code);
    // The list holds every record with its status, exit code, finish time and artifact versions.
    expect(JSON.stringify(await experimentsJson(sb))).toBe(before);
    expect(readdirSync(join(sb.home, 'experiments'))).toEqual(['lr']);
    if (code === 'E_EXPERIMENT_EXISTS') expect(JSON.stringify(await showJson(sb, 'lr'))).toBe(lrBefore);
  });
});
