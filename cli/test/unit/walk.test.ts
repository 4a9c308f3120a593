import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isStudioError } from '@studio-lite/functions/contract';
import { describe, expect, it } from 'vitest';
import { walkFolder } from '../../src/capture/walk.ts';
import { isRoot, useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();

function tree(root: string, files: Record<string, string>): void {
  for (const [rel, content] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    writeFileSync(path.join(root, rel), content);
  }
}

const paths = (r: { files: { path: string }[] }) => r.files.map((f) => f.path).sort();

describe('walkFolder: portable names', () => {
  it('records an NFD name in NFC with a note, and skips one that collides with its NFC twin', async () => {
    const root = tmp();
    tree(root, { 'caf\u00e9.txt': 'nfc', 'cafe\u0301.txt': 'nfd', 'd/nai\u0308ve.txt': 'only nfd' });
    const r = await walkFolder(root, { useIgnoreFile: false });
    expect(paths(r)).toEqual(['caf\u00e9.txt', 'd/na\u00efve.txt']);
    // The file is still read from its real (NFD) name.
    expect(r.files.find((f) => f.path === 'd/na\u00efve.txt')?.abs).toBe(path.join(root, 'd', 'nai\u0308ve.txt'));
    expect(r.skipped).toEqual(['cafe\u0301.txt: same name as caf\u00e9.txt once Unicode-normalized (NFC)']);
    expect(r.notes).toEqual([expect.stringMatching(/^d\/nai\u0308ve.txt: recorded under its NFC name/)]);
  });

  it('skips a name that is not UTF-8 with that reason, instead of two names becoming one', async () => {
    const root = tmp();
    // Bytes 0xff and 0xfe are not UTF-8; Node would decode both to U+FFFD.
    for (const b of [0xff, 0xfe]) writeFileSync(Buffer.concat([Buffer.from(`${root}/s`), Buffer.from([b])]), 'x');
    writeFileSync(path.join(root, 'ok.txt'), 'y');
    const r = await walkFolder(root, { useIgnoreFile: false });
    expect(paths(r)).toEqual(['ok.txt']);
    expect(r.skipped).toEqual(['s\ufffd: file name is not valid UTF-8', 's\ufffd: file name is not valid UTF-8']);
  });
});

describe('walkFolder', () => {
  it('lists regular files with relative POSIX paths and their stat', async () => {
    const root = tmp();
    tree(root, { 'a.txt': 'hello', 'sub/deep/b.bin': 'xyz', 'sub/c': '' });
    const r = await walkFolder(root, { useIgnoreFile: true });
    expect(paths(r)).toEqual(['a.txt', 'sub/c', 'sub/deep/b.bin']);
    const a = r.files.find((f) => f.path === 'a.txt');
    expect(a).toMatchObject({ abs: path.join(root, 'a.txt'), size: 5 });
    expect(a?.ino).toBeGreaterThan(0);
    expect(a?.mtimeMs).toBeGreaterThan(0);
    expect((a?.mode ?? 0) & 0o170000).toBe(0o100000);
    expect(r.skipped).toEqual([]);
  });

  it('applies the root ignore file with gitignore semantics, including negation and dir patterns', async () => {
    const root = tmp();
    tree(root, {
      '.studioml_ignore': '*.log\n!keep.log\nbuild/\n/top-only.txt\n',
      'a.log': '',
      'keep.log': '',
      'x.txt': '',
      'build/out.o': '',
      'src/build/gen.c': '',
      'top-only.txt': '',
      'src/top-only.txt': '',
      'src/deep/z.log': '',
    });
    const r = await walkFolder(root, { useIgnoreFile: true });
    expect(paths(r)).toEqual(['.studioml_ignore', 'keep.log', 'src/top-only.txt', 'x.txt']);
  });

  it('honours nested ignore files relative to their own folder, deeper files overriding', async () => {
    const root = tmp();
    tree(root, {
      '.studioml_ignore': '*.tmp\n',
      'sub/.studioml_ignore': 'secret.txt\n!wanted.tmp\n',
      'sub/secret.txt': '',
      'sub/deeper/secret.txt': '',
      'sub/deeper/kept.txt': '',
      'sub/wanted.tmp': '',
      'sub/other.tmp': '',
      'secret.txt': '',
    });
    const r = await walkFolder(root, { useIgnoreFile: true });
    expect(paths(r)).toEqual([
      '.studioml_ignore',
      'secret.txt',
      'sub/.studioml_ignore',
      'sub/deeper/kept.txt',
      'sub/wanted.tmp',
    ]);
  });

  it('ignores the ignore file when asked to, but always applies alwaysIgnore', async () => {
    const root = tmp();
    tree(root, { '.studioml_ignore': '*.log\n', 'a.log': '', '.git/HEAD': '', 'b.txt': '' });
    const r = await walkFolder(root, { useIgnoreFile: false, alwaysIgnore: ['.git/'] });
    expect(paths(r)).toEqual(['.studioml_ignore', 'a.log', 'b.txt']);
  });

  it('uses a custom ignore file name', async () => {
    const root = tmp();
    tree(root, { '.myignore': 'a.txt\n', 'a.txt': '', 'b.txt': '' });
    const r = await walkFolder(root, { useIgnoreFile: true, ignoreFileName: '.myignore' });
    expect(paths(r)).toEqual(['.myignore', 'b.txt']);
  });

  it('records symlinks as links and never follows them', async () => {
    const root = tmp();
    const outside = tmp();
    tree(outside, { 'private.key': 'secret' });
    tree(root, { 'real.txt': 'r' });
    symlinkSync(outside, path.join(root, 'dirlink'));
    symlinkSync('real.txt', path.join(root, 'filelink'));
    symlinkSync('nowhere/at/all', path.join(root, 'dangling'));
    const r = await walkFolder(root, { useIgnoreFile: true });
    expect(paths(r)).toEqual(['real.txt']);
    expect(r.links.sort((a, b) => a.path.localeCompare(b.path))).toEqual([
      { path: 'dangling', target: 'nowhere/at/all' },
      { path: 'dirlink', target: outside },
      { path: 'filelink', target: 'real.txt' },
    ]);
  });

  it('skips fifos with a reason instead of blocking or throwing', async () => {
    const root = tmp();
    tree(root, { 'ok.txt': 'x' });
    execFileSync('mkfifo', [path.join(root, 'pipe')]);
    const r = await walkFolder(root, { useIgnoreFile: true });
    expect(paths(r)).toEqual(['ok.txt']);
    expect(r.skipped).toEqual(['pipe: not a regular file (fifo)']);
  });

  it('skips names that cannot be manifest paths', async () => {
    const root = tmp();
    tree(root, { 'ok.txt': '', 'back\\slash.txt': '' });
    const r = await walkFolder(root, { useIgnoreFile: true });
    expect(paths(r)).toEqual(['ok.txt']);
    expect(r.skipped[0]).toMatch(/^back\\slash\.txt: unsupported file name/);
  });

  // chmod 000 does not stop root (CAP_DAC_READ_SEARCH), so this case can only fail meaningfully as a normal user.
  it.skipIf(isRoot)('skips an unreadable directory with a reason', async () => {
    const root = tmp();
    tree(root, { 'ok.txt': '', 'locked/inside.txt': '' });
    chmodSync(path.join(root, 'locked'), 0o000);
    try {
      const r = await walkFolder(root, { useIgnoreFile: true });
      expect(paths(r)).toEqual(['ok.txt']);
      expect(r.skipped).toEqual(['locked/: cannot read directory (EACCES)']);
    } finally {
      chmodSync(path.join(root, 'locked'), 0o755);
    }
  });

  it('captures a single file under its basename', async () => {
    const root = tmp();
    tree(root, { 'model.pt': 'weights' });
    const r = await walkFolder(path.join(root, 'model.pt'), { useIgnoreFile: true });
    expect(r.files).toHaveLength(1);
    expect(r.files[0]).toMatchObject({ path: 'model.pt', size: 7, abs: path.join(root, 'model.pt') });
  });

  it('throws E_NOT_FOUND for a missing root', async () => {
    const err = await walkFolder(path.join(tmp(), 'nope'), { useIgnoreFile: true }).catch((e: unknown) => e);
    expect(isStudioError(err, 'E_NOT_FOUND')).toBe(true);
  });
});
