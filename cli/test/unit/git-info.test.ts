import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { gitInfo } from '../../src/session/git-info.ts';

const dirs: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), 'sl-git-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const git = (cwd: string, ...args: string[]) =>
  execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd })
    .toString()
    .trim();

describe('gitInfo', () => {
  it('is null outside a repository', () => {
    expect(gitInfo(temp())).toBeNull();
  });

  it('reads the commit, the remote without credentials and dirtiness, from a subfolder too', () => {
    const repo = temp();
    git(repo, 'init', '-q');
    writeFileSync(join(repo, 'a.txt'), 'a\n');
    git(repo, 'add', 'a.txt');
    git(repo, 'commit', '-q', '-m', 'one');
    git(repo, 'remote', 'add', 'origin', 'https://user:secret@example.com/r.git');
    const head = git(repo, 'rev-parse', 'HEAD');
    mkdirSync(join(repo, 'sub', 'deeper'), { recursive: true });
    expect(gitInfo(join(repo, 'sub', 'deeper'))).toEqual({
      commit: head,
      url: 'https://example.com/r.git',
      dirty: false,
    });
    writeFileSync(join(repo, 'a.txt'), 'changed\n');
    expect(gitInfo(repo)?.dirty).toBe(true);
  });

  it('follows GIT_DIR when the folder itself is outside the repository', () => {
    const repo = temp();
    git(repo, 'init', '-q');
    git(repo, 'commit', '-q', '--allow-empty', '-m', 'one');
    const before = process.env.GIT_DIR;
    process.env.GIT_DIR = join(repo, '.git');
    try {
      expect(gitInfo(temp())?.commit).toBe(git(repo, 'rev-parse', 'HEAD'));
    } finally {
      if (before === undefined) delete process.env.GIT_DIR;
      else process.env.GIT_DIR = before;
    }
  });
});
