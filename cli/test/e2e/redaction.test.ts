import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliOk, showJson, useSandboxes } from './helpers.ts';

const sandbox = useSandboxes();

describe('secrets stay out of records and captures', () => {
  it('redacts secret options in the recorded command, and the script never sees the CLI token', async () => {
    const sb = sandbox();
    const token = `slt_${'b'.repeat(43)}`;
    sb.env.STUDIOML_TOKEN = token;
    const script = "console.log('token-in-env=' + (process.env.STUDIOML_TOKEN ?? 'none'))";
    await cliOk(sb, [
      'run',
      '-q',
      '-e',
      'sec',
      '--',
      'node',
      '-e',
      script,
      '--',
      '--api-key',
      'hunter2',
      `--pat=${token}`,
    ]);
    const show = await showJson(sb, 'sec');
    const recorded = show.experiment.command.join(' ');
    expect(recorded).not.toContain('hunter2');
    expect(recorded).not.toContain(token);
    expect(recorded).toContain('--api-key ***');
    // The output artifact is the script's stdout+stderr, captured from the run's output file.
    const output = readFileSync(join(sb.home, 'experiments', 'sec', 'output'), 'utf8');
    expect(output).toContain('token-in-env=none');
    expect(output).not.toContain(token);
  });
});
