// The end of a run says what it kept, piped (as here: CI logs, nohup) as on a terminal; `run --json` is one object.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOk, makeSandbox, removeSandbox } from './helpers.ts';

let sb: ReturnType<typeof makeSandbox>;
beforeAll(() => {
  sb = makeSandbox();
  mkdirSync(join(sb.cwd, 'w'));
  writeFileSync(
    join(sb.cwd, 'train.py'),
    'import os, sys\nfrom studio import fs_tracker\nd = fs_tracker.get_artifact("weights")\n' +
      'open(os.path.join(d, "a.bin"), "wb").write(b"x" * 5000)\nprint("trained", sys.argv[1:])\n',
  );
});
afterAll(() => removeSandbox(sb));

describe('end-of-run summary', () => {
  it('piped: a table per artifact (version, files, size, new, deduplicated) and paste-ready --reuse lines', async () => {
    const r = await cliOk(sb, ['run', '-e', 'lr', '-c', 'w:weights', 'train.py']);
    expect(r.stdout).toBe('trained []\n');
    const lines = r.stderr.trimEnd().split('\n');
    const start = lines.findIndex((l) => l.startsWith('studio-lite: experiment lr finished (exit 0) in '));
    expect(start).toBeGreaterThan(-1);
    expect(lines.slice(start + 1)).toEqual([
      '  ARTIFACT   VERSION  FILES  SIZE      NEW       DEDUPLICATED',
      '  output     @1       1      11 B      11 B      0 B',
      '  weights    @1       1      4.88 KiB  4.88 KiB  0 B',
      '  workspace  @1       1      171 B     171 B     0 B',
      'reuse in a later run:',
      '  --reuse=lr/output@1:output',
      '  --reuse=lr/weights@1:weights',
      '  --reuse=lr/workspace@1:workspace',
      'details: studio-lite show lr',
    ]);
    expect(r.stderr).toMatch(/ in \d+\.\d\ds\n/);
  });

  it('run --json: one object on stdout (the script prints to stderr), deduplicated bytes counted', async () => {
    const r = await cliOk(sb, [
      'run',
      '--json',
      '-e',
      'lr2',
      '-c',
      'w:weights',
      '--reuse=lr/weights:prev',
      'train.py',
      'x',
    ]);
    expect(r.stderr).toContain("trained ['x']");
    const s = JSON.parse(r.stdout);
    expect(Object.keys(s)).toEqual([
      'experiment',
      'status',
      'exitCode',
      'signal',
      'command',
      'startedAt',
      'finishedAt',
      'durationMs',
      'artifacts',
      'reused',
      'warnings',
    ]);
    expect(s).toMatchObject({
      experiment: 'lr2',
      status: 'finished',
      exitCode: 0,
      command: ['python3', 'train.py', 'x'],
    });
    expect(s.startedAt).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(s.reused).toEqual([{ as: 'prev', experiment: 'lr', tag: 'weights', version: 1 }]);
    // Same bytes as lr's weights@1: stored once, so nothing new.
    expect(s.artifacts.find((a: { tag: string }) => a.tag === 'weights')).toEqual({
      tag: 'weights',
      mutable: true,
      version: 1,
      createdVersions: [1],
      files: 1,
      bytes: 5000,
      newBytes: 0,
      dedupedBytes: 5000,
      reuse: '--reuse=lr2/weights@1:weights',
    });
  });
});
