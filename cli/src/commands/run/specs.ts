import { statSync } from 'node:fs';
import { homedir } from 'node:os';
import { resolve } from 'node:path';
import { assertTag, isStudioError, parseArtifactRef, StudioError } from '@studio-lite/functions/contract';

export interface CaptureSpec {
  tag: string;
  /** Absolute path of the folder (or file). */
  path: string;
  mutable: boolean;
}

export interface ReuseSpec {
  experiment: string;
  tag: string;
  version: number | undefined;
  /** An alias (`@best`) the server resolves to its version when the run is registered. */
  alias?: string | undefined;
  as: string;
}

export function expandHome(p: string): string {
  if (p === '~') return homedir();
  if (p.startsWith('~/')) return resolve(homedir(), p.slice(2));
  return p;
}

/** `PATH:TAG` (split at the last colon). Throws E_BAD_TAG for a missing colon or bad tag, E_NOT_FOUND for a missing path. */
export function parseCaptureSpec(spec: string, mutable: boolean, cwd: string): CaptureSpec {
  const flag = mutable ? '--capture' : '--capture-once';
  const i = spec.lastIndexOf(':');
  if (i <= 0 || i === spec.length - 1) {
    throw new StudioError('E_BAD_TAG', `${flag} "${spec}": expected PATH:TAG, e.g. ./weights:weights`);
  }
  const tag = assertTag(spec.slice(i + 1));
  const path = resolve(cwd, expandHome(spec.slice(0, i)));
  try {
    statSync(path);
  } catch {
    throw new StudioError(
      'E_NOT_FOUND',
      `${flag} ${spec}: path ${path} does not exist (create it first, e.g. mkdir -p)`,
    );
  }
  return { tag, path, mutable };
}

/** `EXP/TAG[@VERSION]:NEWTAG`. Throws E_BAD_TAG. */
export function parseReuseSpec(spec: string): ReuseSpec {
  const i = spec.lastIndexOf(':');
  const usage = 'expected EXP/TAG[@VERSION|@ALIAS|@latest]:NEWTAG, e.g. lr/weights@2:w or lr/weights@best:w';
  if (i <= 0 || i === spec.length - 1) throw new StudioError('E_BAD_TAG', `invalid --reuse "${spec}": ${usage}`);
  let ref: ReturnType<typeof parseArtifactRef>;
  try {
    ref = parseArtifactRef(spec.slice(0, i));
  } catch (err) {
    // The message names the whole flag value, not just the part before the colon.
    if (isStudioError(err, 'E_BAD_ALIAS'))
      throw new StudioError('E_BAD_ALIAS', `invalid --reuse "${spec}": ${err.message}`);
    throw new StudioError('E_BAD_TAG', `invalid --reuse "${spec}": ${usage}`);
  }
  return { ...ref, as: assertTag(spec.slice(i + 1)) };
}

/** Rejects two flags that claim the same tag (default artifacts may be overridden, user flags may not collide). */
export function assertUniqueTags(tags: string[]): void {
  const seen = new Set<string>();
  for (const t of tags) {
    if (seen.has(t)) throw new StudioError('E_BAD_TAG', `tag "${t}" is given twice`);
    seen.add(t);
  }
}
