// `logs EXP` and `logs -f EXP` for runs started on this machine: the live output, before any capture.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, collect, startCli, useSandboxes, waitFor } from './helpers.ts';

const sandbox = useSandboxes();

describe('logs of a local run', () => {
  it('shows the live output before the first capture, and -f follows it to the exit code', async () => {
    const sb = sandbox();
    const gate = join(sb.cwd, 'go');
    writeFileSync(
      join(sb.cwd, 'slow.py'),
      [
        'import os, sys, time',
        "print('first line', flush=True)",
        `while not os.path.exists(${JSON.stringify(gate)}): time.sleep(0.05)`,
        "print('second line', flush=True)",
        'sys.exit(3)',
      ].join('\n'),
    );
    // A long interval: no capture happens while the script runs.
    const run = collect(startCli(sb, ['run', '-q', '--capture-interval', '600', '-e', 'slow', 'slow.py']));
    await waitFor(() => run.stdoutSoFar().includes('first line'), 'the first line');

    const now = await cli(sb, ['logs', 'slow']);
    expect(now.code, now.stderr).toBe(0);
    expect(now.stdout).toBe('first line\n');

    const follow = collect(startCli(sb, ['logs', '-f', 'slow']));
    writeFileSync(gate, '');
    const followed = await follow;
    expect(followed.stdout).toBe('first line\nsecond line\n');
    expect(followed.code).toBe(3);
    expect((await run).code).toBe(3);
    expect(existsSync(gate)).toBe(true);
  });
});
