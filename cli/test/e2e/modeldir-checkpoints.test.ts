// Studio's promise for `modeldir` ("Studio will try to do some analysis on it, such as count the number of
// checkpoints"): `show` lists the checkpoints of its versions with sizes and what is new or changed since the version
// before; `show --json` carries the same per version (contract/checkpoints.ts).
import { describe, expect, it } from 'vitest';
import { cliOk, showJson, useSandboxes } from './helpers.ts';

const sandbox = useSandboxes();

interface Report {
  count: number;
  bytes: number;
  fresh: number;
  checkpoints: { name: string; kind: string; files: number; bytes: number; change: string }[];
}

describe('modeldir checkpoints in show', () => {
  it('counts checkpoint files and TensorFlow prefixes, marks new and changed ones per version', async () => {
    const sb = sandbox();
    const m = '"$STUDIOML_ARTIFACT_MODELDIR"';
    // Attempt 1: one PyTorch file, one TensorFlow checkpoint (2 files), the state file and a note (not checkpoints).
    await cliOk(sb, [
      'run',
      '-q',
      '-e',
      'train',
      '--',
      'sh',
      '-c',
      `printf 1234567890 > ${m}/epoch-1.pt && printf ab > ${m}/model.ckpt-1.index && printf abcd > ${m}/model.ckpt-1.data-00000-of-00001 && echo x > ${m}/checkpoint && echo note > ${m}/notes.txt`,
    ]);
    // Attempt 2 (--resume, same modeldir folder): epoch-1.pt rewritten, epoch-2.pt added, the TF one unchanged.
    await cliOk(sb, [
      'run',
      '-q',
      '-e',
      'train',
      '--resume',
      '--',
      'sh',
      '-c',
      `printf 0987654321 > ${m}/epoch-1.pt && printf 12345 > ${m}/epoch-2.pt`,
    ]);
    const show = await showJson(sb, 'train');
    const modeldir = show.artifacts.find((a) => a.tag === 'modeldir') as unknown as {
      versions: { version: number; checkpoints?: Report }[];
    };
    const [v1, v2] = modeldir.versions;
    expect(v1?.checkpoints).toEqual({
      count: 2,
      bytes: 16,
      fresh: 2,
      checkpoints: [
        { name: 'epoch-1.pt', kind: 'file', files: 1, bytes: 10, change: 'new' },
        { name: 'model.ckpt-1', kind: 'tensorflow', files: 2, bytes: 6, change: 'new' },
      ],
    });
    expect(v2?.checkpoints).toEqual({
      count: 3,
      bytes: 21,
      fresh: 2,
      checkpoints: [
        { name: 'epoch-1.pt', kind: 'file', files: 1, bytes: 10, change: 'changed' },
        { name: 'epoch-2.pt', kind: 'file', files: 1, bytes: 5, change: 'new' },
        { name: 'model.ckpt-1', kind: 'tensorflow', files: 2, bytes: 6, change: 'same' },
      ],
    });
    const text = (await cliOk(sb, ['show', 'train'])).stdout;
    expect(text).toContain('modeldir@2: 3 checkpoint(s), 21 B');
    expect(text).toMatch(/ {2}epoch-1\.pt {2}10 B {2}\(changed\)/);
    expect(text).toMatch(/ {2}epoch-2\.pt {2}5 B {2}\(new\)/);
    expect(text).toMatch(/ {2}model\.ckpt-1 {2}6 B in 2 files\n/);
    expect(text).toContain('checkpoints per version (new or changed): @1 2 (+2), @2 3 (+2)');
  });

  it('compares with the version before in the list when retention left a gap', async () => {
    const sb = sandbox();
    const m = '"$STUDIOML_ARTIFACT_MODELDIR"';
    await cliOk(sb, ['run', '-q', '-e', 'g', '--', 'sh', '-c', `printf 1 > ${m}/a.pt`]);
    for (const f of ['b', 'c']) {
      await cliOk(sb, ['run', '-q', '-e', 'g', '--resume', '--', 'sh', '-c', `printf 1 > ${m}/${f}.pt`]);
    }
    await cliOk(sb, ['alias', 'g/modeldir@1', 'first']);
    await cliOk(sb, ['retention', 'set', '--keep-last', '1']);
    await cliOk(sb, ['retention', 'apply']);
    const show = await showJson(sb, 'g');
    const modeldir = show.artifacts.find((a) => a.tag === 'modeldir') as unknown as {
      versions: { version: number; checkpoints?: Report }[];
    };
    expect(modeldir.versions.map((v) => v.version)).toEqual([1, 3]);
    // @3 against @1 (not against nothing): a.pt is the same, b.pt and c.pt are new.
    expect(modeldir.versions[1]?.checkpoints?.checkpoints.map((c) => [c.name, c.change])).toEqual([
      ['a.pt', 'same'],
      ['b.pt', 'new'],
      ['c.pt', 'new'],
    ]);
  });

  it('says nothing about a modeldir that never held a checkpoint', async () => {
    const sb = sandbox();
    await cliOk(sb, ['run', '-q', '-e', 'plain', '--', 'true']);
    expect((await cliOk(sb, ['show', 'plain'])).stdout).not.toContain('checkpoint');
  });
});
