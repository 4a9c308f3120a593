// `experiments --json` with statuses, exit codes and the --project filter; a non-Python command (`run -- node -e`)
// using the Node helper getArtifact; the local credentials file mode.
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifact, cli, cliOk, experimentsJson, NODE_HELPERS, pullJson, showJson, useSandboxes } from './helpers.ts';

const sandbox = useSandboxes();

describe('experiments list, non-Python commands, credentials', () => {
  it('run -- node resolves a captured tag with getArtifact; experiments --json lists both runs; --project filters', async () => {
    const sb = sandbox();
    mkdirSync(join(sb.cwd, 'cap'));
    const js = [
      `const { getArtifact, getExperimentKey } = await import(${JSON.stringify(NODE_HELPERS)});`,
      "const fs = await import('node:fs');",
      "const dir = getArtifact('cap');",
      "fs.writeFileSync(dir + '/from-node.txt', 'written by ' + getExperimentKey());",
      "console.log('ARTIFACT ' + dir);",
    ].join('\n');
    const ok = await cliOk(sb, [
      'run',
      '-c',
      './cap:cap',
      '--project',
      'alpha',
      '-e',
      'node-ok',
      '--',
      'node',
      '--input-type=module',
      '-e',
      js,
    ]);
    expect(ok.stdout).toContain(`ARTIFACT ${join(sb.cwd, 'cap')}`);
    const bad = await cli(sb, ['run', '--project', 'beta', '-e', 'node-bad', '--', 'node', '-e', 'process.exit(4)']);
    expect(bad.code).toBe(4);

    const show = await showJson(sb, 'node-ok');
    expect(show.experiment.command).toEqual(['node', '--input-type=module', '-e', js]);
    expect(artifact(show, 'cap').versions.at(-1)?.files).toBe(1);
    const pulled = await pullJson(sb, 'node-ok/cap', join(sb.tmp(), 'cap'));
    expect(readFileSync(join(pulled.dest, 'from-node.txt'), 'utf8')).toBe('written by node-ok');

    const all = await experimentsJson(sb);
    const brief = all.map((e) => ({ key: e.key, status: e.status, exitCode: e.exitCode, project: e.project }));
    expect(brief).toHaveLength(2);
    expect(brief).toEqual(
      expect.arrayContaining([
        { key: 'node-ok', status: 'finished', exitCode: 0, project: 'alpha' },
        { key: 'node-bad', status: 'failed', exitCode: 4, project: 'beta' },
      ]),
    );
    expect((await experimentsJson(sb, ['--project', 'alpha'])).map((e) => e.key)).toEqual(['node-ok']);
    expect((await experimentsJson(sb, ['--project', 'beta'])).map((e) => e.key)).toEqual(['node-bad']);
    expect(await experimentsJson(sb, ['--project', 'nosuch'])).toEqual([]);
  });

  it('credentials.json has mode 0600 after the first run', async () => {
    const sb = sandbox();
    await cliOk(sb, ['run', '-q', '--', 'node', '-e', '']);
    const st = statSync(join(sb.home, 'credentials.json'));
    expect(st.mode & 0o777).toBe(0o600);
  });
});
