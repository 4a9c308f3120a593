import { StudioError } from '../contract/errors.ts';
import type { Principal } from '../contract/model.ts';
import { assertAliasName, assertExperimentKey, assertTag } from '../contract/names.ts';
import type { AliasChange, AliasView } from '../contract/results.ts';
import type { AliasRecord } from './alias-store.ts';
import { recordAudit } from './audit.ts';
import { requireArtifactRead, requireExperimentRead, requireExperimentWrite, requireWriteScope } from './authz.ts';
import type { CoreDeps } from './context.ts';

const view = (a: AliasRecord): AliasView => ({
  name: a.name,
  version: a.version,
  updatedAt: a.updatedAt,
  updatedBy: a.updatedBy,
});

function store(deps: CoreDeps) {
  if (!deps.aliases) throw new StudioError('E_UNAVAILABLE', 'this backend has no version aliases');
  return deps.aliases;
}

/** E_NOT_FOUND naming the experiment or the artifact, whichever is missing. */
async function notFound(deps: CoreDeps, team: string, key: string, what: string): Promise<StudioError> {
  const exp = await deps.experiments.getExperiment(team, key);
  return new StudioError('E_NOT_FOUND', exp ? `${what} not found` : `experiment ${key} not found`);
}

/**
 * Points alias `name` of KEY/TAG at `version` (creating or moving it): writers of the experiment only. The version
 * must exist (E_NOT_FOUND); the name must be valid (E_BAD_ALIAS, nothing stored). Audited once per call with the
 * version it replaced, so concurrent moves leave a complete chain of from -> to in the log.
 */
export async function setAlias(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  tag: string,
  name: string,
  version: number,
): Promise<AliasChange> {
  requireExperimentWrite(p, team, key);
  requireWriteScope(p, 'move aliases');
  assertExperimentKey(key);
  assertTag(tag);
  assertAliasName(name);
  if (!Number.isSafeInteger(version) || version < 1) {
    throw new StudioError('E_BAD_REQUEST', `invalid version ${version}: versions start at 1`);
  }
  if (!(await deps.experiments.getVersion(team, key, tag, version))) {
    throw await notFound(deps, team, key, `artifact ${key}/${tag}@${version}`);
  }
  const { previous } = await store(deps).setAlias({
    team,
    experiment: key,
    tag,
    name,
    version,
    updatedAt: deps.now().toISOString(),
    updatedBy: p.userId,
  });
  // An experiment deleted between the check and the write has already purged its aliases: look again, so this one
  // does not outlive it (a later experiment under the same key would inherit it).
  if (!(await deps.experiments.getVersion(team, key, tag, version))) {
    await store(deps).deleteAlias(team, key, tag, name);
    throw await notFound(deps, team, key, `artifact ${key}/${tag}@${version}`);
  }
  const action = previous === null ? 'alias.set' : 'alias.move';
  await recordAudit(deps, p, team, action, `${key}/${tag}@${name}`, { from: previous, to: version });
  return { experiment: key, tag, name, from: previous, to: version };
}

/** Removes an alias (writers only). Throws E_NOT_FOUND when there is none. Audited with the version it named. */
export async function deleteAlias(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  tag: string,
  name: string,
): Promise<AliasChange> {
  requireExperimentWrite(p, team, key);
  requireWriteScope(p, 'delete aliases');
  assertExperimentKey(key);
  assertTag(tag);
  assertAliasName(name);
  const gone = await store(deps).deleteAlias(team, key, tag, name);
  if (!gone) throw await notFound(deps, team, key, `alias ${key}/${tag}@${name}`);
  await recordAudit(deps, p, team, 'alias.delete', `${key}/${tag}@${name}`, { from: gone.version, to: null });
  return { experiment: key, tag, name, from: gone.version, to: null };
}

/** The aliases of one artifact, by name (readers). Throws E_NOT_FOUND for an unknown experiment or artifact. */
export async function listAliases(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  tag: string,
): Promise<AliasView[]> {
  requireExperimentRead(p, team, key);
  assertExperimentKey(key);
  assertTag(tag);
  const [aliases, latest] = await Promise.all([
    store(deps).listAliases(team, key, tag),
    deps.experiments.getVersion(team, key, tag),
  ]);
  if (!latest) throw await notFound(deps, team, key, `artifact ${key}/${tag}`);
  return aliases.map(view);
}

/** Every alias of an experiment, grouped by tag (`show`, `versions`); no authorization: the caller checked it. */
export async function aliasesByTag(deps: CoreDeps, team: string, key: string): Promise<Record<string, AliasView[]>> {
  const out: Record<string, AliasView[]> = {};
  if (!deps.aliases) return out;
  for (const a of await deps.aliases.listAliases(team, key)) {
    const list = out[a.tag] ?? [];
    list.push(view(a));
    out[a.tag] = list;
  }
  return out;
}

/**
 * The version a selector names: a number as it is, `latest` (or undefined) as undefined (the newest), an alias
 * as the version it points at (E_NOT_FOUND when the artifact has no such alias; E_BAD_ALIAS for a bad name). An
 * alias is resolved like `latest`: a job token may do so only for its own experiment.
 */
export async function resolveVersion(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  tag: string,
  selector: number | string | undefined,
): Promise<number | undefined> {
  if (selector === undefined || typeof selector === 'number') return selector;
  if (selector === 'latest') return undefined;
  if (/^[-+]?\d/.test(selector)) {
    const n = Number(selector);
    if (!Number.isSafeInteger(n) || n < 1) throw new StudioError('E_BAD_REQUEST', `invalid version "${selector}"`);
    return n;
  }
  requireArtifactRead(p, team, key, tag, undefined);
  assertExperimentKey(key);
  assertTag(tag);
  assertAliasName(selector);
  const a = await store(deps).getAlias(team, key, tag, selector);
  if (!a) throw await notFound(deps, team, key, `alias ${key}/${tag}@${selector}`);
  return a.version;
}
