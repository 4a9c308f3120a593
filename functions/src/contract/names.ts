import { StudioError } from './errors.ts';

/** Experiment keys, project names and team ids: safe in URLs, file names and Firestore ids. */
const KEY_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
/** Tags: like keys but shorter; never contain `/` or `..`. */
const TAG_RE = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;

export function assertExperimentKey(key: string): string {
  if (!KEY_RE.test(key) || key.includes('..')) {
    throw new StudioError(
      'E_BAD_KEY',
      `invalid experiment key "${key}": use letters, digits, '.', '_' or '-' (max 128)`,
    );
  }
  return key;
}

/** Reserved because STUDIOML_ARTIFACT_MAPPING names the mapping file in Studio's script contract. */
const RESERVED_TAGS = new Set(['mapping']);

export function assertTag(tag: string): string {
  if (RESERVED_TAGS.has(tag.toLowerCase())) {
    throw new StudioError('E_BAD_TAG', `tag "${tag}" is reserved`);
  }
  if (!TAG_RE.test(tag)) {
    throw new StudioError('E_BAD_TAG', `invalid tag "${tag}": use letters, digits, '_' or '-' (max 64, no '/' or '.')`);
  }
  return tag;
}

export function assertProject(name: string): string {
  if (!KEY_RE.test(name) || name.includes('..')) {
    throw new StudioError('E_BAD_KEY', `invalid project name "${name}"`);
  }
  return name;
}

/** Team ids follow the key rules (they are path segments in storage and Firestore). Throws E_BAD_KEY. */
export function assertTeamId(id: string): string {
  if (!KEY_RE.test(id) || id.includes('..')) {
    throw new StudioError('E_BAD_KEY', `invalid team id "${id}": use letters, digits, '.', '_' or '-' (max 128)`);
  }
  return id;
}

/**
 * Team names are case-insensitive: `teamA` and `TEAMA` are one team, stored and keyed (storage folders, Firestore ids)
 * under this canonical form, so case-insensitive file systems cannot merge two teams. Ids are ASCII (assertTeamId), so
 * Unicode case folding is lower-casing. Throws E_BAD_KEY.
 */
export function canonicalTeamId(id: string): string {
  return assertTeamId(id).toLowerCase();
}

/**
 * The team a caller means by `asked`: the membership it holds under any case (teams named with capitals before names
 * were canonical keep their stored id), else the canonical form. Throws E_BAD_KEY.
 */
export function teamIdFor(teams: Record<string, unknown>, asked: string): string {
  const canonical = canonicalTeamId(asked);
  return Object.keys(teams).find((t) => t.toLowerCase() === canonical) ?? canonical;
}

/** User ids created on a local shared box follow the key rules too. Throws E_BAD_KEY. */
export function assertUserId(id: string): string {
  if (!KEY_RE.test(id) || id.includes('..')) {
    throw new StudioError('E_BAD_KEY', `invalid user id "${id}": use letters, digits, '.', '_' or '-' (max 128)`);
  }
  return id;
}

export const SHA256_RE = /^[0-9a-f]{64}$/;

/** Version aliases (`best`, `prod.v2`): lower-case, start with a letter, so never a number; `latest` is built in. */
const ALIAS_RE = /^[a-z][a-z0-9._-]{0,63}$/;

/** Throws E_BAD_ALIAS for a name that cannot be an alias (format, or the reserved `latest`). */
export function assertAliasName(name: string): string {
  if (name === 'latest') {
    throw new StudioError('E_BAD_ALIAS', 'alias "latest" is reserved: it always means the newest version');
  }
  if (!ALIAS_RE.test(name)) {
    throw new StudioError(
      'E_BAD_ALIAS',
      `invalid alias "${name}": start with a lower-case letter, then a-z, 0-9, '.', '_' or '-' (max 64)`,
    );
  }
  return name;
}

/** What names a version: a number, an alias, or neither (the newest, also spelled `@latest`). */
export interface ArtifactRef {
  experiment: string;
  tag: string;
  version: number | undefined;
  /** An alias name when the reference used one (then `version` is undefined until the server resolves it). */
  alias?: string | undefined;
}

/** The version part of a reference as the API's path takes it: a number, an alias or `latest`. */
export function versionSelector(r: ArtifactRef): string {
  return r.alias ?? (r.version === undefined ? 'latest' : String(r.version));
}

/** Parses `EXP/TAG[@VERSION|@latest|@ALIAS]`; version and alias undefined mean latest. */
export function parseArtifactRef(ref: string): ArtifactRef {
  const m = /^([^/@]+)\/([^/@]+)(?:@([^/@]*))?$/.exec(ref);
  if (!m)
    throw new StudioError(
      'E_BAD_TAG',
      `invalid artifact reference "${ref}": expected EXP/TAG, EXP/TAG@VERSION, EXP/TAG@latest or EXP/TAG@ALIAS`,
    );
  const experiment = assertExperimentKey(m[1] as string);
  const tag = assertTag(m[2] as string);
  const sel = m[3];
  // `@latest` (as the API spells it) is the same as no version: resolved to the newest when used.
  if (sel === undefined || sel === 'latest') return { experiment, tag, version: undefined };
  if (/^\d+$/.test(sel)) {
    const version = Number(sel);
    if (!Number.isSafeInteger(version) || version < 1) {
      throw new StudioError('E_BAD_TAG', `invalid version in "${ref}": versions start at 1`);
    }
    return { experiment, tag, version };
  }
  return { experiment, tag, version: undefined, alias: assertAliasName(sel) };
}

export const QUEUE_RE = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function assertQueue(q: string): string {
  if (!QUEUE_RE.test(q)) {
    throw new StudioError('E_BAD_REQUEST', `invalid queue name "${q.slice(0, 80)}": use a-z, 0-9, _ and -, max 63`);
  }
  return q;
}
