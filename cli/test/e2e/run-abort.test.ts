// A run that cannot start its script after it was registered (here: the mapping file cannot be written) is recorded
// as failed with the reason, and the CLI exits promptly: it neither stays `running` until its lease lapses nor keeps
// the process alive with a capture loop, a heartbeat or the stat cache open.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, showJson, useSandboxes } from './helpers.ts';

const sandbox = useSandboxes();

describe('a run aborted before its script starts', () => {
  it('is recorded failed with the reason and the CLI exits at once', async () => {
    const sb = sandbox();
    // A folder where the run's artifacts.json goes: writing the mapping fails after registration and captures.
    mkdirSync(join(sb.home, 'experiments', 'abort1', 'artifacts.json'), { recursive: true, mode: 0o700 });
    const t0 = Date.now();
    const r = await cli(sb, ['run', '-q', '-e', 'abort1', '--', 'node', '-e', '1']);
    expect(r.code, r.stderr).toBe(1);
    expect(r.stderr).toContain('EISDIR');
    // The run's lease here is minutes long: only a recorded end makes `show` say failed now.
    const exp = (await showJson(sb, 'abort1')).experiment;
    expect(exp.status).toBe('failed');
    expect(exp.warnings.some((w) => w.startsWith('run aborted:') && w.includes('EISDIR'))).toBe(true);
    expect(Date.now() - t0).toBeLessThan(30_000);
  });
});
