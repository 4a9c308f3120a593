import { execFileSync } from 'node:child_process';

function git(cwd: string, args: string[]): string | null {
  try {
    return execFileSync('git', args, { cwd, stdio: ['ignore', 'pipe', 'ignore'], timeout: 5000 })
      .toString()
      .trim();
  } catch {
    return null;
  }
}

/** Commit, remote and dirtiness of the working directory, or null outside a repository. Credentials in URLs are cut. */
export function gitInfo(cwd: string): { commit: string; url: string | null; dirty: boolean } | null {
  const commit = git(cwd, ['rev-parse', 'HEAD']);
  if (!commit) return null;
  const url = git(cwd, ['config', '--get', 'remote.origin.url']);
  const status = git(cwd, ['status', '--porcelain', '--untracked-files=no']);
  return { commit, url: url ? url.replace(/\/\/[^/@]*@/, '//') : null, dirty: Boolean(status) };
}
