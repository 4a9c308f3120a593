import { createHash } from 'node:crypto';
import { chmodSync, mkdirSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { parseManifest } from '@studio-lite/functions/contract';
import { describe, expect, it } from 'vitest';
import { snapshot, snapshotFromWalk } from '../../src/capture/snapshot.ts';
import { openStatCache } from '../../src/capture/stat-cache.ts';
import { walkFolder } from '../../src/capture/walk.ts';
import { isRoot, useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const HOUR_AGO = (Date.now() - 3600_000) / 1000;

/** Files dated an hour back, so the stat cache does not treat them as racily clean. */
function oldTree(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    const p = path.join(root, rel);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, content);
    utimesSync(p, HOUR_AGO, HOUR_AGO);
  }
}

describe('snapshot', () => {
  it('builds a sorted, valid manifest with mode, mtime, links and one source per content', async () => {
    const root = tmp();
    oldTree(root, { 'b.txt': 'same', 'a/x.txt': 'same', 'run.sh': '#!/bin/sh\n' });
    chmodSync(path.join(root, 'run.sh'), 0o755);
    chmodSync(path.join(root, 'b.txt'), 0o640);
    symlinkSync('b.txt', path.join(root, 'latest'));
    const s = await snapshot(root, { useIgnoreFile: true }, null);
    expect(s.manifest.files.map((f) => f.path)).toEqual(['a/x.txt', 'b.txt', 'run.sh']);
    expect(s.manifest.links).toEqual([{ path: 'latest', target: 'b.txt' }]);
    const b = s.manifest.files[1];
    expect(b).toEqual({
      path: 'b.txt',
      size: 4,
      sha256: sha('same'),
      mode: 0o640,
      mtime: statSync(path.join(root, 'b.txt')).mtimeMs,
    });
    expect(s.manifest.files[2]?.mode).toBe(0o755);
    expect(s.sources.size).toBe(2);
    expect([path.join(root, 'a/x.txt'), path.join(root, 'b.txt')]).toContain(s.sources.get(sha('same')));
    expect(s.stats).toEqual({ hashedFiles: 3, hashedBytes: 4 + 4 + 10 });
    expect(parseManifest(JSON.parse(JSON.stringify(s.manifest)))).toEqual(s.manifest);
  });

  it('re-hashes only files whose stat changed', async () => {
    const root = tmp();
    oldTree(root, { 'a.txt': 'aaaa', 'b.txt': 'bbbb', 'sub/c.txt': 'cccc' });
    const cache = openStatCache(':memory:');
    expect((await snapshot(root, { useIgnoreFile: true }, cache)).stats.hashedFiles).toBe(3);
    expect((await snapshot(root, { useIgnoreFile: true }, cache)).stats).toEqual({ hashedFiles: 0, hashedBytes: 0 });

    // touch: new mtime, same content
    utimesSync(path.join(root, 'a.txt'), HOUR_AGO + 60, HOUR_AGO + 60);
    expect((await snapshot(root, { useIgnoreFile: true }, cache)).stats.hashedFiles).toBe(1);
    expect((await snapshot(root, { useIgnoreFile: true }, cache)).stats.hashedFiles).toBe(0);

    // same size, mtime restored: only ctime betrays the rewrite
    const p = path.join(root, 'sub/c.txt');
    writeFileSync(p, 'CCCC');
    utimesSync(p, HOUR_AGO, HOUR_AGO);
    const s = await snapshot(root, { useIgnoreFile: true }, cache);
    expect(s.stats.hashedFiles).toBe(1);
    expect(s.manifest.files.find((f) => f.path === 'sub/c.txt')?.sha256).toBe(sha('CCCC'));
    cache.close();
  });

  it('does not trust the cache for files modified just before the capture (racily clean)', async () => {
    const root = tmp();
    writeFileSync(path.join(root, 'fresh.txt'), 'new');
    const cache = openStatCache(':memory:');
    await snapshot(root, { useIgnoreFile: true }, cache);
    expect((await snapshot(root, { useIgnoreFile: true }, cache)).stats.hashedFiles).toBe(1);
    expect((await snapshot(root, { useIgnoreFile: true, racyWindowMs: 0 }, cache)).stats.hashedFiles).toBe(1);
    expect((await snapshot(root, { useIgnoreFile: true, racyWindowMs: 0 }, cache)).stats.hashedFiles).toBe(0);
    cache.close();
  });

  it('skips files that vanish or turn into symlinks between walk and hash', async () => {
    const root = tmp();
    oldTree(root, { 'gone.txt': 'x', 'swapped.txt': 'y', 'kept.txt': 'z', 'big.bin': 'b'.repeat(300_000) });
    const walk = await walkFolder(root, { useIgnoreFile: true });
    rmSync(path.join(root, 'gone.txt'));
    rmSync(path.join(root, 'swapped.txt'));
    symlinkSync('/etc/passwd', path.join(root, 'swapped.txt'));
    rmSync(path.join(root, 'big.bin'));
    const s = await snapshotFromWalk(walk, {}, null, Date.now());
    expect(s.manifest.files.map((f) => f.path)).toEqual(['kept.txt']);
    expect(s.skipped.sort()).toEqual([
      'big.bin: disappeared during capture',
      'gone.txt: disappeared during capture',
      'swapped.txt: replaced by a symlink during capture',
    ]);
  });

  // chmod 000 does not stop root, so this can only fail meaningfully as a normal user.
  it.skipIf(isRoot)('skips an unreadable file with a reason', async () => {
    const root = tmp();
    oldTree(root, { 'secret.txt': 's', 'ok.txt': 'o' });
    chmodSync(path.join(root, 'secret.txt'), 0o000);
    const s = await snapshot(root, { useIgnoreFile: true }, null);
    expect(s.manifest.files.map((f) => f.path)).toEqual(['ok.txt']);
    expect(s.skipped).toEqual(['secret.txt: permission denied (EACCES)']);
  });

  it('carries the walk’s skipped entries and honours ignore rules', async () => {
    const root = tmp();
    oldTree(root, { '.studioml_ignore': '*.ckpt\n', 'w.ckpt': 'big', 'ok.txt': 'ok', 'bad\\name': '' });
    const s = await snapshot(root, { useIgnoreFile: true }, null);
    expect(s.manifest.files.map((f) => f.path)).toEqual(['.studioml_ignore', 'ok.txt']);
    expect(s.skipped).toHaveLength(1);
  });
});

describe('snapshot keepBytes', () => {
  it('keeps small files’ exact bytes, back to back in one block, so an upload batch of them needs no copy', async () => {
    const root = tmp();
    const files: Record<string, string> = {};
    for (let i = 0; i < 50; i++) files[`d/f${String(i).padStart(2, '0')}`] = `content ${i} `.repeat(i + 1);
    files['empty'] = '';
    oldTree(root, files);
    const s = await snapshot(
      root,
      { useIgnoreFile: false, keepBytes: { maxFileSize: 1 << 20, budget: 1 << 30 } },
      null,
    );
    const kept = [...s.contents.values()];
    expect(s.contents.size).toBe(51);
    for (const [rel, content] of Object.entries(files)) {
      expect(s.contents.get(sha(content))?.toString()).toBe(content);
      void rel;
    }
    // The non-empty ones share one memory block, each starting where the one hashed before it ended.
    const nonEmpty = kept.filter((b) => b.length > 0);
    expect(new Set(nonEmpty.map((b) => b.buffer)).size).toBe(1);
    const { filesBody } = await import('../../src/transfer/file-body.ts');
    const parts = nonEmpty.map((data) => ({ abs: '/nonexistent', size: data.length, sha256: '', data }));
    const chunks: Uint8Array[] = [];
    for await (const c of filesBody(parts, () => {})) chunks.push(c);
    expect(Buffer.concat(chunks).equals(Buffer.concat(nonEmpty))).toBe(true);
    expect(chunks.every((c) => c.buffer === nonEmpty[0]?.buffer)).toBe(true);
  });

  it('a file that grew past its walked size after the walk is hashed whole and not kept as a truncated copy', async () => {
    const root = tmp();
    oldTree(root, { 'a.txt': 'short' });
    const walk = await walkFolder(root, { useIgnoreFile: false });
    writeFileSync(path.join(root, 'a.txt'), 'much longer content now');
    const s = await snapshotFromWalk(walk, { keepBytes: { maxFileSize: 1 << 20, budget: 1 << 30 } }, null, Date.now());
    const f = s.manifest.files[0];
    expect(f?.sha256).toBe(sha('much longer content now'));
    const kept = s.contents.get(f?.sha256 as string);
    if (kept) expect(kept.toString()).toBe('much longer content now');
  });
});
