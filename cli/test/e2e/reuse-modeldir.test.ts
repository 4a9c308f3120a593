// The default `modeldir` artifact is reused like any other: `--reuse=EXP/modeldir@V:TAG` gives a later run a private
// copy of what the first run's script wrote into its modeldir ($STUDIOML_ARTIFACT_MODELDIR), recorded as lineage.
import { describe, expect, it } from 'vitest';
import { artifact, cliOk, showJson, useSandboxes } from './helpers.ts';

const sandbox = useSandboxes();

describe('reuse of modeldir', () => {
  it('--reuse=EXP/modeldir@1:m lays out the file the first run wrote into its modeldir', async () => {
    const sb = sandbox();
    await cliOk(sb, [
      'run',
      '-q',
      '-e',
      'train',
      '--',
      'sh',
      '-c',
      'mkdir -p "$STUDIOML_ARTIFACT_MODELDIR/ckpt" && echo "weights v1" > "$STUDIOML_ARTIFACT_MODELDIR/ckpt/model.txt"',
    ]);
    expect(artifact(await showJson(sb, 'train'), 'modeldir').latestVersion).toBe(1);

    const r = await cliOk(sb, [
      'run',
      '-q',
      '--reuse=train/modeldir@1:m',
      '-e',
      'evaluate',
      '--',
      'sh',
      '-c',
      'cat "$STUDIOML_ARTIFACT_M/ckpt/model.txt" > seen.txt && cat seen.txt',
    ]);
    expect(r.stdout).toContain('weights v1');
    const show = await showJson(sb, 'evaluate');
    expect(show.experiment.status).toBe('finished');
    expect(show.experiment.lineage).toEqual([{ as: 'm', experiment: 'train', tag: 'modeldir', version: 1 }]);
  });
});
