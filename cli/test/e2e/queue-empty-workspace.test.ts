// `run --queue` from an empty folder: the workspace (and an empty --capture-once input) have nothing to capture, and
// the worker must still run the job, as `cd $(mktemp -d) && studio-lite run -- CMD` runs without --queue. The job's
// inputs are recorded as empty versions, so the record says what the job ran on.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifact, cliOk, collect, showJson, startCli, useSandboxes } from './helpers.ts';
import { waitForJob } from './queue-helpers.ts';

const sandbox = useSandboxes();

describe('run --queue from an empty folder', () => {
  it('the worker runs the job in an empty workspace and records its output', async () => {
    const sb = sandbox();
    const data = sb.tmp();
    mkdirSync(join(data, 'empty'));
    const cmd = ['--', 'node', '-e', 'console.log("ran-ok")'];
    await cliOk(sb, ['run', '-q', '--queue', 'empty', '-e', 'qempty', `-co=${join(data, 'empty')}:data`, ...cmd]);
    const worker = collect(startCli(sb, ['worker', '--queue', 'empty', '--max-jobs', '1', '-q']));
    const job = await waitForJob(sb, 'qempty', (j) => j.status !== 'queued' && j.status !== 'leased', 'qempty to end');
    await worker;
    expect(job.status).toBe('finished');
    expect(job.exitCode).toBe(0);
    expect((await cliOk(sb, ['logs', 'qempty'])).stdout).toContain('ran-ok');
    const show = await showJson(sb, 'qempty');
    for (const tag of ['workspace', 'data']) {
      expect(artifact(show, tag).versions.map((v) => [v.version, v.files])).toEqual([[1, 0]]);
    }
  });
});
