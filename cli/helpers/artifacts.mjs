// Where a Node script started by `studio-lite run` finds its artifacts. Zero dependencies, so a script can import
// it by path; the same contract as the Python `studio.fs_tracker`:
//   STUDIOML_HOME              state folder (default ~/.studioml)
//   STUDIOML_EXPERIMENT        experiment key
//   STUDIOML_ARTIFACT_MAPPING  JSON file {"tag": "/abs/path", ...}; wins over the per-tag variables
//   STUDIOML_ARTIFACT_<TAG>    one per tag, <TAG> upper-cased with '-' replaced by '_'
import { randomUUID } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

export const STUDIOML_HOME = 'STUDIOML_HOME';
export const STUDIOML_EXPERIMENT = 'STUDIOML_EXPERIMENT';
export const STUDIOML_ARTIFACT_MAPPING = 'STUDIOML_ARTIFACT_MAPPING';
export const ARTIFACT_ENV_PREFIX = 'STUDIOML_ARTIFACT_';

// Default artifacts that always resolve to a folder, even when the CLI did not map them.
const DEFAULT_DIR_TAGS = ['modeldir', 'tb'];

/** Thrown by getArtifact() for a tag the experiment does not have; `code` is 'E_NOT_FOUND'. */
export class ArtifactNotFoundError extends Error {
  /** @param {string} tag @param {string} message */
  constructor(tag, message) {
    super(message);
    this.name = 'ArtifactNotFoundError';
    this.code = 'E_NOT_FOUND';
    this.tag = tag;
  }
}

/** Name of the per-tag variable, e.g. 'my-data' -> STUDIOML_ARTIFACT_MY_DATA. */
export function artifactEnvName(tag) {
  return ARTIFACT_ENV_PREFIX + tag.toUpperCase().replaceAll('-', '_');
}

/** $STUDIOML_HOME, or ~/.studioml. */
export function getStudioHome() {
  const home = process.env[STUDIOML_HOME];
  if (home) return home === '~' || home.startsWith('~/') ? join(homedir(), home.slice(1)) : home;
  return join(homedir(), '.studioml');
}

/** Key of the running experiment; outside the CLI a new uuid, kept for this process and its children. */
export function getExperimentKey() {
  let key = process.env[STUDIOML_EXPERIMENT];
  if (!key) {
    key = randomUUID();
    process.env[STUDIOML_EXPERIMENT] = key;
  }
  return key;
}

/** All artifacts of this experiment as {tag: local path}. */
export function getArtifacts() {
  const { mapping } = readMapping();
  // Variable names lose case and '-', so a variable only adds a tag the mapping file does not already name.
  const covered = new Set([...mapping.keys()].map(artifactEnvName));
  const entries = [...mapping];
  for (const [name, value] of artifactEnvVars()) {
    if (!covered.has(name)) entries.push([name.slice(ARTIFACT_ENV_PREFIX.length).toLowerCase(), value]);
  }
  return Object.fromEntries(entries);
}

/** Local path of the artifact tagged `tag`; throws ArtifactNotFoundError for an unknown tag. */
export function getArtifact(tag) {
  const { mapping, problem } = readMapping();
  const path = mapping.get(tag) || envArtifact(tag);
  if (path) return path;
  if (DEFAULT_DIR_TAGS.includes(tag)) {
    // Run without the CLI: Studio's default location, created like Studio did.
    const dir = join(getStudioHome(), 'experiments', getExperimentKey(), tag);
    mkdirSync(dir, { recursive: true });
    return dir;
  }
  const known = [...new Set([...Object.keys(getArtifacts()), ...DEFAULT_DIR_TAGS])].sort();
  let msg =
    `no artifact tagged '${tag}' in this experiment; known tags: ${known.join(', ')}. ` +
    `Give it with \`studio-lite run --capture PATH:${tag}\`, \`--capture-once PATH:${tag}\` or \`--reuse EXP/TAG:${tag}\`.`;
  if (problem) msg += ` Note: ${problem}.`;
  throw new ArtifactNotFoundError(tag, msg);
}

/** The mapping file as a Map, plus a note on why it could not be read (for error messages). */
function readMapping() {
  const file = process.env[STUDIOML_ARTIFACT_MAPPING];
  const mapping = new Map();
  if (!file) {
    return {
      mapping,
      problem: `${STUDIOML_ARTIFACT_MAPPING} is not set (was the script started by \`studio-lite run\`?)`,
    };
  }
  let text;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    if (err?.code === 'ENOENT') return { mapping, problem: `the mapping file ${file} does not exist` };
    throw err;
  }
  let data;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${STUDIOML_ARTIFACT_MAPPING} ${file} is not valid JSON: ${err.message}`, { cause: err });
  }
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new Error(`${STUDIOML_ARTIFACT_MAPPING} ${file} must hold a JSON object {"tag": "/path"}`);
  }
  for (const [tag, raw] of Object.entries(data)) {
    // Accept {"tag": {"path": ...}} too, should the CLI ever write richer entries.
    const value = raw !== null && typeof raw === 'object' ? (raw.path ?? raw.local_path) : raw;
    if (typeof value === 'string' && value) mapping.set(tag, value);
  }
  return { mapping, problem: undefined };
}

function envArtifact(tag) {
  const name = artifactEnvName(tag);
  // A tag named 'mapping' would collide with STUDIOML_ARTIFACT_MAPPING; only the mapping file can name it.
  if (name === STUDIOML_ARTIFACT_MAPPING) return undefined;
  return process.env[name] || undefined;
}

function artifactEnvVars() {
  return Object.entries(process.env).filter(
    ([name, value]) => name.startsWith(ARTIFACT_ENV_PREFIX) && name !== STUDIOML_ARTIFACT_MAPPING && value,
  );
}
