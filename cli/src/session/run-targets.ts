import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { CaptureTarget } from '../artifacts/capture-artifact.ts';
import { PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../home/private-files.ts';

/** A --capture or --capture-once the user gave (absolute path). */
export interface OwnCapture {
  tag: string;
  path: string;
  mutable: boolean;
}

/**
 * The mutable defaults every run has, as Studio has them: `output` (the script's stdout and stderr), `modeldir` and
 * `tb`, all in the run's folder `dir`; a tag in `userTags` replaces its default. The output file is created in any
 * case (the script's output always goes there). Folders and files are created private (0700/0600).
 */
export function defaultTargets(dir: string, userTags: Set<string>): { targets: CaptureTarget[]; outputFile: string } {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
  const outputFile = join(dir, 'output');
  writeFileSync(outputFile, '', { flag: 'a', mode: PRIVATE_FILE_MODE });
  const targets: CaptureTarget[] = [];
  if (!userTags.has('output')) targets.push({ tag: 'output', path: outputFile, mutable: true, useIgnoreFile: false });
  for (const tag of ['modeldir', 'tb']) {
    if (userTags.has(tag)) continue;
    mkdirSync(join(dir, tag), { recursive: true, mode: PRIVATE_DIR_MODE });
    targets.push({ tag, path: join(dir, tag), mutable: true, useIgnoreFile: false });
  }
  return { targets, outputFile };
}

/**
 * What a direct run captures: the workspace (cwd with .studioml_ignore), the defaults, plus --capture and
 * --capture-once; a user flag or reuse with the same tag replaces a default. Paths captured under their own tag
 * inside the working directory are left out of `workspace`, so their bytes are not captured twice.
 */
export function runTargets(
  expDir: string,
  cwd: string,
  own: OwnCapture[],
  reuseTags: string[],
): { targets: CaptureTarget[]; outputFile: string } {
  const userTags = new Set(own.map((c) => c.tag).concat(reuseTags));
  const defaults = defaultTargets(expDir, userTags);
  const workspace: CaptureTarget[] = userTags.has('workspace')
    ? []
    : [
        {
          tag: 'workspace',
          path: cwd,
          mutable: false,
          useIgnoreFile: true,
          excludeTargets: own.map((c) => ({ path: c.path, tag: c.tag })),
        },
      ];
  const targets: CaptureTarget[] = [
    ...workspace,
    ...defaults.targets,
    ...own.map((c) => ({ tag: c.tag, path: c.path, mutable: c.mutable, useIgnoreFile: false })),
  ];
  return { targets, outputFile: defaults.outputFile };
}
