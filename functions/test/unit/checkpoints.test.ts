// contract/checkpoints.ts: what `show` and the web page call the checkpoints of a modeldir version.
import { describe, expect, it } from 'vitest';
import { checkpointReport } from '../../src/contract/checkpoints.ts';
import type { Manifest } from '../../src/contract/manifest.ts';

const f = (path: string, size = 10, sha = 'a') => ({ path, size, sha256: sha.repeat(64), mode: 0o644, mtime: 0 });
const m = (...files: ReturnType<typeof f>[]): Manifest => ({ files, links: [] });

describe('checkpointReport', () => {
  it('finds every common checkpoint file anywhere in the tree, and nothing else', () => {
    const r = checkpointReport(
      m(
        f('a.pt'),
        f('sub/b.pth'),
        f('c.h5'),
        f('d.keras'),
        f('e.safetensors'),
        f('f.npz'),
        f('g.pck'),
        f('h.ckpt'),
        f('notes.txt'),
        f('config.json'),
        f('checkpoint'),
      ),
      null,
    );
    expect(r.checkpoints.map((c) => c.name)).toEqual([
      'a.pt',
      'c.h5',
      'd.keras',
      'e.safetensors',
      'f.npz',
      'g.pck',
      'h.ckpt',
      'sub/b.pth',
    ]);
    expect(r.count).toBe(8);
    expect(r.bytes).toBe(80);
  });

  it('groups a TensorFlow checkpoint by prefix and a SavedModel by folder', () => {
    const r = checkpointReport(
      m(
        f('checkpoint'),
        f('model.ckpt-1000.index', 1),
        f('model.ckpt-1000.data-00000-of-00002', 100),
        f('model.ckpt-1000.data-00001-of-00002', 100),
        f('model.ckpt-1000.meta', 5),
        f('export/1/saved_model.pb', 50),
        f('export/1/variables/variables.index', 2),
        f('export/1/variables/variables.data-00000-of-00001', 300),
      ),
      null,
    );
    expect(r.checkpoints).toEqual([
      { name: 'export/1', kind: 'savedmodel', files: 3, bytes: 352, change: 'new' },
      { name: 'model.ckpt-1000', kind: 'tensorflow', files: 4, bytes: 206, change: 'new' },
    ]);
  });

  it('marks what is new or changed since the previous version', () => {
    const prev = m(f('epoch-1.pt', 10, 'a'), f('epoch-2.pt', 10, 'b'), f('ckpt-1.index', 1, 'c'));
    const cur = m(
      f('epoch-1.pt', 10, 'a'),
      f('epoch-2.pt', 10, 'd'),
      f('epoch-3.pt', 10, 'e'),
      f('ckpt-1.index', 1, 'c'),
      f('ckpt-1.data-00000-of-00001', 9, 'f'),
    );
    const r = checkpointReport(cur, prev);
    expect(Object.fromEntries(r.checkpoints.map((c) => [c.name, c.change]))).toEqual({
      'ckpt-1': 'changed',
      'epoch-1.pt': 'same',
      'epoch-2.pt': 'changed',
      'epoch-3.pt': 'new',
    });
    expect(r.fresh).toBe(3);
    expect(checkpointReport(cur, null).fresh).toBe(4);
  });
});
