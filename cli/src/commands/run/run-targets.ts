import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaptureTarget } from '../../artifacts/capture-artifact.ts';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../../home/private-files.ts';
import type { CaptureSpec } from './specs.ts';

/**
 * What a direct run captures: the defaults Studio has (workspace = cwd with .studioml_ignore, output, modeldir,
 * tb; a user flag with the same tag replaces one) plus --capture and --capture-once. Folders the defaults need are
 * created private (0700/0600) under the experiment's folder. Paths captured under their own tag inside the working
 * directory are left out of `workspace`, so their bytes are not captured twice.
 */
export function runTargets(
  expDir: string,
  cwd: string,
  captures: CaptureSpec[],
  onces: CaptureSpec[],
  reuseTags: string[],
): { targets: CaptureTarget[]; outputFile: string } {
  const own = [...captures, ...onces];
  const userTags = new Set(own.map((c) => c.tag).concat(reuseTags));
  const defaults: CaptureTarget[] = [];
  const add = (tag: string, path: string, mutable: boolean, extra: Partial<CaptureTarget> = {}) => {
    if (!userTags.has(tag)) defaults.push({ tag, path, mutable, useIgnoreFile: false, ...extra });
  };
  mkdirSync(expDir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const outputFile = join(expDir, 'output');
  writeFileSync(outputFile, '', { flag: 'a', mode: PRIVATE_FILE_MODE });
  add('workspace', cwd, false, {
    useIgnoreFile: true,
    excludeTargets: own.map((c) => ({ path: c.path, tag: c.tag })),
  });
  add('output', outputFile, true);
  for (const tag of ['modeldir', 'tb']) {
    if (!userTags.has(tag)) mkdirSync(join(expDir, tag), { recursive: true, mode: PRIVATE_DIR_MODE });
    add(tag, join(expDir, tag), true);
  }
  const targets: CaptureTarget[] = [
    ...defaults,
    ...own.map((c) => ({ tag: c.tag, path: c.path, mutable: c.mutable, useIgnoreFile: false })),
  ];
  return { targets, outputFile };
}
