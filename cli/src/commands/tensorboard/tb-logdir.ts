import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, realpathSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { StudioError } from '@studio-lite/functions/contract';
import { withHint } from '../../exit-error.ts';
import { mkdirPrivate, writePrivateFile } from '../../home/private-files.ts';

/** The file that says a folder is a logdir this command made (and may therefore fill and prune). */
export const LOGDIR_MARKER = '.studio-lite-tensorboard';

/** Longest default folder name before the selection is abbreviated with a hash. */
const MAX_NAME = 80;

/**
 * The default logdir of a selection: `$STUDIOML_HOME/tensorboard/<name>`, the same folder for the same selection in
 * any order (`a+b`, `project-P+a`), so running the command again resumes in place.
 */
export function defaultLogdir(home: string, keys: readonly string[], project: string | undefined): string {
  const parts = [...(project === undefined ? [] : [`project-${project}`]), ...[...new Set(keys)].sort()];
  const whole = parts.join('+');
  const name =
    whole.length <= MAX_NAME
      ? whole
      : `${whole.slice(0, MAX_NAME - 14).replace(/[+]+$/, '')}-${createHash('sha256').update(whole).digest('hex').slice(0, 12)}`;
  return path.join(home, 'tensorboard', name);
}

/** Whether `p` is `home` or below it (resolved, through links where they exist). */
export function insideHome(p: string, home: string): boolean {
  const real = (x: string) => {
    try {
      return realpathSync(x);
    } catch {
      return path.resolve(x);
    }
  };
  const r = path.relative(real(home), real(p));
  return r === '' || (r !== '..' && !r.startsWith(`..${path.sep}`) && !path.isAbsolute(r));
}

/**
 * Checks that `dir` may be used as this command's logdir, before anything is written: a folder that does not exist
 * yet, an empty one, or one this command made (it holds the marker). Anything else is refused (E_DEST_EXISTS, exit
 * 2): the sync removes files a version no longer has, so it must never run in someone else's folder.
 */
export function checkLogdir(dir: string): void {
  const refuse = (why: string) =>
    withHint(
      new StudioError('E_DEST_EXISTS', `--logdir ${dir} ${why}; nothing was changed`, { details: { dest: dir } }),
      'choose a new or empty folder with --logdir DIR, or leave --logdir out (a folder under $STUDIOML_HOME/tensorboard)',
    );
  let isDir: boolean;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    return; // Does not exist: created by prepareLogdir.
  }
  if (!isDir) throw refuse('exists and is not a folder');
  const names = readdirSync(dir);
  if (names.length > 0 && !names.includes(LOGDIR_MARKER)) {
    throw refuse('is not empty and was not made by `studio-lite tensorboard`');
  }
}

/** Creates the logdir (0700 folders under the home) and its marker. */
export function prepareLogdir(dir: string, home: string): void {
  if (insideHome(dir, home)) mkdirPrivate(dir);
  else mkdirSync(dir, { recursive: true });
  const marker = path.join(dir, LOGDIR_MARKER);
  try {
    statSync(marker);
  } catch {
    writePrivateFile(
      marker,
      `${JSON.stringify({ createdBy: 'studio-lite tensorboard', createdAt: new Date().toISOString() })}\n`,
    );
  }
}
