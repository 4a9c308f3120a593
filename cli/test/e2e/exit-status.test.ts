// Exit codes and statuses: a crashing script, sys.exit(N), and SIGINT/SIGTERM sent to the CLI mid-run.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifact, cli, collect, pullJson, SLEEPER, showJson, startCli, useSandboxes, waitFor } from './helpers.ts';

const sandbox = useSandboxes();

describe('script failures', () => {
  it('a script that raises ends failed with exit 1, and the output artifact holds its print and traceback', async () => {
    const sb = sandbox();
    writeFileSync(join(sb.cwd, 'crash.py'), 'print("line printed before the crash")\nraise RuntimeError("boom")\n');
    const r = await cli(sb, ['run', '-e', 'crash', 'crash.py']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('line printed before the crash');
    expect(r.stderr).toContain('RuntimeError: boom');

    const show = await showJson(sb, 'crash');
    expect(show.experiment.status).toBe('failed');
    expect(show.experiment.exitCode).toBe(1);
    const out = artifact(show, 'output');
    expect(out.mutable).toBe(true);

    const dest = join(sb.tmp(), 'out');
    await pullJson(sb, 'crash/output', dest);
    const text = readFileSync(join(dest, 'output'), 'utf8');
    expect(text).toContain('line printed before the crash');
    expect(text).toContain('Traceback (most recent call last)');
    expect(text).toContain('RuntimeError: boom');
  });

  it('sys.exit(3) gives exit 3 and status failed', async () => {
    const sb = sandbox();
    writeFileSync(join(sb.cwd, 'exit3.py'), 'import sys\nsys.exit(3)\n');
    const r = await cli(sb, ['run', '-e', 'exit3', 'exit3.py']);
    expect(r.code).toBe(3);
    const show = await showJson(sb, 'exit3');
    expect(show.experiment.status).toBe('failed');
    expect(show.experiment.exitCode).toBe(3);
  });
});

describe.each([
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)('%s to the CLI mid-run', (sig, shellCode) => {
  it('stops the script, records status stopped and captures the file written before the signal', async () => {
    const sb = sandbox();
    mkdirSync(join(sb.cwd, 'ckpt'));
    writeFileSync(join(sb.cwd, 'sleeper.py'), SLEEPER);
    // A long interval: the file can only reach the artifact through the final capture.
    const child = startCli(sb, ['run', '-c', './ckpt:ckpt', '--capture-interval', '600', '-e', 'sleepy', 'sleeper.py']);
    const run = collect(child);
    await waitFor(() => run.stdoutSoFar().includes('READY'), 'READY from the script');
    const t0 = Date.now();
    child.kill(sig);
    const r = await run;
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(r.stdout).not.toContain('NOT REACHED');
    // The shell convention for a signal (Python dies of SIGINT after KeyboardInterrupt), or the script's own code.
    expect([shellCode, 1]).toContain(r.code);

    const show = await showJson(sb, 'sleepy');
    expect(show.experiment.status).toBe('stopped');
    expect(show.experiment.exitCode).toBe(r.code);
    const ckpt = artifact(show, 'ckpt');
    expect(ckpt.versions.at(-1)?.files).toBe(1);
    const dest = join(sb.tmp(), 'ckpt');
    const pulled = await pullJson(sb, 'sleepy/ckpt', dest);
    expect(pulled.version).toBe(ckpt.latestVersion);
    expect(readFileSync(join(dest, 'before-signal.txt'), 'utf8')).toBe('written before the signal\n');
  });
});
