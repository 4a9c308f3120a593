import { execFileSync } from 'node:child_process';
import { chownSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { StudioError } from '@studio-lite/functions/contract';

/** Who a job's script runs as (`worker --run-as USER`): another Unix user than the worker, which holds the token. */
export interface RunAs {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

/**
 * Resolves `--run-as USER` through the system's user database (getent: local files, LDAP, …). The worker must run as
 * root to start processes as another user. Throws E_BAD_REQUEST.
 */
export function resolveRunAs(user: string): RunAs {
  if (process.platform === 'win32') throw new StudioError('E_BAD_REQUEST', '--run-as needs a Unix system');
  if (process.getuid?.() !== 0) {
    throw new StudioError('E_BAD_REQUEST', '--run-as needs the worker to run as root (it starts scripts as USER)');
  }
  let entry: string;
  try {
    entry = execFileSync('getent', ['passwd', user], { encoding: 'utf8' }).trim();
  } catch {
    throw new StudioError('E_BAD_REQUEST', `--run-as: no user "${user}" on this machine`);
  }
  const [name, , uid, gid, , home] = entry.split(':');
  if (Number(uid) === 0) throw new StudioError('E_BAD_REQUEST', '--run-as must name a user other than root');
  return { name: name ?? user, uid: Number(uid), gid: Number(gid), home: home ?? '/' };
}

/**
 * Hands a job's folder to the run-as user so the script can write its artifacts: every folder and every file with a
 * single link. Files hard-linked from the worker's blob cache (more than one link) stay the worker's and read-only, so
 * a script cannot change what later jobs read from the cache.
 */
export function giveFolder(dir: string, to: RunAs): void {
  const st = lstatSync(dir);
  if (st.isSymbolicLink()) return;
  if (st.isDirectory()) {
    chownSync(dir, to.uid, to.gid);
    for (const name of readdirSync(dir)) giveFolder(join(dir, name), to);
  } else if (st.isFile() && st.nlink === 1) chownSync(dir, to.uid, to.gid);
}
