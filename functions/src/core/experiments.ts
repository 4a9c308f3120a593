import type { CreateExperimentBody, FinishExperimentBody } from '../api/schemas.ts';
import type { ShowExperimentResponse } from '../api/wire.ts';
import { requireExperimentRead, requireRole } from './authz.ts';
import type { CoreDeps } from './context.ts';
import { StudioError } from './errors.ts';
import type { ExperimentRecord, LineageEntry, Principal } from './model.ts';
import { assertExperimentKey, assertProject, assertTag } from './names.ts';
import { redactArgv, redactText } from './redact.ts';

type CreateInput = Required<Omit<CreateExperimentBody, 'reuse'>> & {
  reuse: NonNullable<CreateExperimentBody['reuse']>;
};

/**
 * Registers a run as `running`, resolving every reuse to a fixed version first so that nothing is stored when a
 * reuse is missing. Throws E_EXPERIMENT_EXISTS for a taken key unless `resume`.
 */
export async function createExperiment(
  deps: CoreDeps,
  p: Principal,
  team: string,
  body: CreateInput,
): Promise<{ experiment: ExperimentRecord; lineage: LineageEntry[]; resumed: boolean }> {
  requireRole(p, team, 'editor');
  const key = assertExperimentKey(body.key);
  if (body.project !== null) assertProject(body.project);
  const lineage: LineageEntry[] = [];
  for (const r of body.reuse) {
    assertExperimentKey(r.experiment);
    assertTag(r.tag);
    assertTag(r.as);
    const v = await deps.meta.getVersion(team, r.experiment, r.tag, r.version);
    if (!v) {
      const what = r.version ? `${r.experiment}/${r.tag}@${r.version}` : `${r.experiment}/${r.tag}`;
      const src = await deps.meta.getExperiment(team, r.experiment);
      throw new StudioError('E_NOT_FOUND', src ? `artifact ${what} not found` : `experiment ${r.experiment} not found`);
    }
    lineage.push({ as: r.as, experiment: r.experiment, tag: r.tag, version: v.version });
  }
  const now = deps.now().toISOString();
  const existing = await deps.meta.getExperiment(team, key);
  if (existing) {
    if (!body.resume) {
      throw new StudioError('E_EXPERIMENT_EXISTS', `experiment ${key} already exists (use --resume to continue it)`);
    }
    const experiment = await deps.meta.updateExperiment(team, key, {
      status: 'running',
      finishedAt: null,
      exitCode: null,
      signal: null,
      startedAt: now,
      lineage: resumedLineage(existing.lineage, lineage),
    });
    return { experiment, lineage, resumed: true };
  }
  const experiment: ExperimentRecord = {
    team,
    key,
    project: body.project,
    owner: p.userId,
    status: body.queued ? 'queued' : 'running',
    command: redactArgv(body.command),
    cwd: body.cwd,
    host: body.host,
    git: body.git && { ...body.git, url: body.git.url === null ? null : redactText(body.git.url) },
    createdAt: now,
    startedAt: body.queued ? null : now,
    finishedAt: null,
    exitCode: null,
    signal: null,
    warnings: [],
    lineage,
  };
  await deps.meta.createExperiment(experiment);
  return { experiment, lineage, resumed: false };
}

/** Moves a running experiment to its final status. Throws E_NOT_FOUND, E_CONFLICT if it already ended. */
export async function finishExperiment(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  body: Required<FinishExperimentBody>,
): Promise<ExperimentRecord> {
  requireRole(p, team, 'editor');
  assertExperimentKey(key);
  const cur = await deps.meta.getExperiment(team, key);
  if (!cur) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  return deps.meta.updateExperiment(
    team,
    key,
    {
      status: body.status,
      exitCode: body.exitCode,
      signal: body.signal,
      finishedAt: deps.now().toISOString(),
      warnings: [...cur.warnings, ...body.warnings.map(redactText)].slice(0, 10_000),
    },
    ['running', 'queued'],
  );
}

export async function showExperiment(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
): Promise<ShowExperimentResponse> {
  requireExperimentRead(p, team, key);
  assertExperimentKey(key);
  const experiment = await deps.meta.getExperiment(team, key);
  if (!experiment) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  const arts = await deps.meta.listArtifacts(team, key);
  const artifacts = await Promise.all(
    arts.map(async (a) => ({ ...a, versions: await deps.meta.listVersions(team, key, a.tag) })),
  );
  return { experiment, artifacts };
}

/** Most lineage entries one experiment keeps (a --resume adds only reuses it does not list yet). */
export const MAX_LINEAGE = 256;

/** The lineage after a resume: new entries appended once, at most MAX_LINEAGE (E_TOO_LARGE naming the field). */
function resumedLineage(had: LineageEntry[], add: LineageEntry[]): LineageEntry[] {
  const same = (a: LineageEntry, b: LineageEntry) =>
    a.as === b.as && a.experiment === b.experiment && a.tag === b.tag && a.version === b.version;
  const out = [...had];
  for (const e of add) if (!out.some((o) => same(o, e))) out.push(e);
  if (out.length > MAX_LINEAGE) {
    throw new StudioError('E_TOO_LARGE', `lineage would hold ${out.length} entries, at most ${MAX_LINEAGE}`, {
      details: { field: 'lineage' },
    });
  }
  return out;
}
