import { pathProblem } from '@studio-lite/functions/contract';
import type { WalkResult } from './walk.ts';

/**
 * Makes a walk's paths ones the backend accepts (contract/manifest.ts pathProblem) instead of letting the commit fail
 * on the first odd name: a name in another Unicode form (NFD, as macOS and some archives write it) is recorded in
 * NFC with a note; one that then collides with another entry, or that no file system everywhere can hold (a
 * segment over 255 bytes, invalid UTF-8), is skipped with the reason. The file is still read from its real name.
 */
export function makePortable(walk: WalkResult): void {
  const taken = new Set<string>();
  for (const e of [...walk.files, ...walk.links]) if (pathProblem(e.path) === null) taken.add(e.path);
  const fix = <T extends { path: string }>(entries: T[]): T[] =>
    entries.filter((e) => {
      const why = pathProblem(e.path);
      if (why === null) return true;
      const nfc = e.path.normalize('NFC');
      if (why !== 'is not NFC-normalized' || pathProblem(nfc) !== null) {
        walk.skipped.push(`${e.path}: file name not portable (${why})`);
        return false;
      }
      if (taken.has(nfc)) {
        walk.skipped.push(`${e.path}: same name as ${nfc} once Unicode-normalized (NFC)`);
        return false;
      }
      taken.add(nfc);
      walk.notes.push(`${e.path}: recorded under its NFC name (the same letters in the form every system uses)`);
      e.path = nfc;
      return true;
    });
  walk.files = fix(walk.files);
  walk.links = fix(walk.links);
}
