// Golden shapes: every `--json` prints exactly one JSON object (lists inside it under a named key), with ISO-8601 UTC
// times. docs/cli.md documents the same keys.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOk, makeSandbox, removeSandbox } from './helpers.ts';

let sb: ReturnType<typeof makeSandbox>;
beforeAll(async () => {
  sb = makeSandbox();
  writeFileSync(join(sb.cwd, 'w.txt'), 'weights');
  await cliOk(sb, ['run', '-q', '-e', 'lr', '--capture-once', 'w.txt:weights', '--', 'true']);
  await cliOk(sb, ['run', '-q', '-e', 'gone', '--', 'true']);
});
afterAll(() => removeSandbox(sb));

const ISO = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/** Runs a --json command and returns its one object (fails on an array or on more than one value). */
async function one(args: string[]): Promise<Record<string, unknown>> {
  const out = (await cliOk(sb, args)).stdout;
  const v = JSON.parse(out) as unknown;
  expect(typeof v === 'object' && v !== null && !Array.isArray(v), `${args.join(' ')}: ${out}`).toBe(true);
  return v as Record<string, unknown>;
}

describe('--json shapes', () => {
  it.each([
    [
      ['experiments', '--json'],
      ['experiments', 'pendingPush'],
    ],
    [
      ['show', 'lr', '--json'],
      ['experiment', 'artifacts'],
    ],
    [['team', 'list', '--json'], ['teams']],
    [['team', 'members', 'local', '--json'], ['members']],
    [['audit', '--json'], ['entries']],
    [['token', 'list', '--json'], ['tokens']],
    [['jobs', '--json'], ['jobs']],
    [
      ['cache', 'info', '--json'],
      ['blobCache', 'statCache'],
    ],
    [['gc', '--dry-run', '--json'], null],
    [
      ['doctor', '--json'],
      ['ok', 'checks'],
    ],
  ])('%j', async (args, keys) => {
    const v = await one(args as string[]);
    if (keys) expect(Object.keys(v)).toEqual(keys);
  });

  it('times are ISO-8601 UTC', async () => {
    const { experiments } = (await one(['experiments', '--json'])) as { experiments: { startedAt: string }[] };
    for (const e of experiments) expect(e.startedAt).toMatch(ISO);
  });

  it('pull, delete and run --json', async () => {
    const pulled = await one(['pull', 'lr/weights', '-o', join(sb.tmp(), 'p'), '--json']);
    expect(Object.keys(pulled)).toEqual(
      expect.arrayContaining(['experiment', 'tag', 'dest', 'version', 'files', 'bytes']),
    );
    const deleted = await one(['delete', 'gone', '--yes', '--json']);
    expect(deleted).toMatchObject({ key: 'gone' });
    const run = await one(['run', '--json', '-e', 'r', '--', 'true']);
    expect(run.startedAt).toMatch(ISO);
    expect(run.finishedAt).toMatch(ISO);
  });
});
