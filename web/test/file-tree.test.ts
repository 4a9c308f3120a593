import { checkpointReport } from '@studio-lite/functions/contract/pure';
import { describe, expect, it } from 'vitest';
import { buildTree, diffManifests, visibleRows } from '../src/pages/file-tree.ts';
import type { Manifest } from '../src/types.ts';

const f = (path: string, size = 1, sha = 'a', mode = 0o644) => ({ path, size, sha256: sha.repeat(64), mode, mtime: 0 });

describe('file tree', () => {
  const m: Manifest = {
    files: [f('b.txt', 3), f('a/x.bin', 10), f('a/deep/y.bin', 20), f('c.txt', 1)],
    links: [{ path: 'a/link', target: '../b.txt' }],
  };

  it('folders first with total sizes and file counts; content only when expanded', () => {
    const rows = visibleRows(buildTree(m), new Set());
    expect(rows.map((r) => [r.path, r.dir, r.size, r.files])).toEqual([
      ['a', true, 30, 3],
      ['b.txt', false, 3, 1],
      ['c.txt', false, 1, 1],
    ]);
    const open = visibleRows(buildTree(m), new Set(['a']));
    expect(open.map((r) => `${'  '.repeat(r.depth)}${r.name}`)).toEqual([
      'a',
      '  deep',
      '  link',
      '  x.bin',
      'b.txt',
      'c.txt',
    ]);
    expect(visibleRows(buildTree(m), 'all').map((r) => r.path)).toContain('a/deep/y.bin');
  });

  it('counts TensorFlow checkpoints once per step and not the state file', () => {
    const ckpt: Manifest = {
      files: [
        f('checkpoint'),
        f('ckpt-1.index'),
        f('ckpt-1.data-00000-of-00001'),
        f('ckpt-2.index'),
        f('ckpt-2.data-00000-of-00002'),
        f('ckpt-2.data-00001-of-00002'),
        f('model.ckpt-3.meta'),
        f('model.ckpt-3.index'),
        f('epoch-4.h5'),
        f('saved/variables/variables.index'),
      ],
      links: [],
    };
    expect(checkpointReport(ckpt, null).count).toBe(5);
    expect(checkpointReport({ files: [], links: [] }, null).count).toBe(0);
  });

  it('diffs by path: added, removed, changed content or executable bit, with sizes', () => {
    const base: Manifest = { files: [f('same'), f('edit', 1, 'a'), f('gone', 5), f('run.sh', 2, 'c')], links: [] };
    const head: Manifest = {
      files: [f('same'), f('edit', 4, 'b'), f('new', 7), f('run.sh', 2, 'c', 0o755)],
      links: [],
    };
    expect(diffManifests(base, head)).toEqual([
      { path: 'edit', change: 'changed', before: 1, after: 4 },
      { path: 'gone', change: 'removed', before: 5, after: null },
      { path: 'new', change: 'added', before: null, after: 7 },
      { path: 'run.sh', change: 'changed', before: 2, after: 2 },
    ]);
  });
});
