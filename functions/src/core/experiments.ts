import { StudioError } from '../contract/errors.ts';
import {
  type AttemptRecord,
  type ExperimentRecord,
  type LineageEntry,
  type Principal,
  TERMINAL_STATUSES,
} from '../contract/model.ts';
import { assertExperimentKey, assertProject, assertTag } from '../contract/names.ts';
import { redactArgv, redactText } from '../contract/redact.ts';
import type { CreateExperimentBody, FinishExperimentBody } from '../contract/schemas.ts';
import type { ShowExperimentResponse } from '../contract/wire.ts';
import { aliasesByTag, resolveVersion } from './aliases.ts';
import { requireExperimentRead, requireRole } from './authz.ts';
import type { CoreDeps } from './context.ts';
import {
  attemptsOf,
  leaseDeadline,
  renewLease,
  runLeaseSeconds,
  settleLease,
  withCurrentAttempt,
} from './run-lease.ts';

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
): Promise<{ experiment: ExperimentRecord; lineage: LineageEntry[]; resumed: boolean; leaseSeconds: number }> {
  requireRole(p, team, 'editor');
  const key = assertExperimentKey(body.key);
  if (body.project !== null) assertProject(body.project);
  const lineage: LineageEntry[] = [];
  for (const r of body.reuse) {
    assertExperimentKey(r.experiment);
    assertTag(r.tag);
    assertTag(r.as);
    if (r.alias !== undefined && r.version !== undefined) {
      throw new StudioError('E_BAD_REQUEST', `reuse of ${r.experiment}/${r.tag}: give a version or an alias, not both`);
    }
    const version = await resolveVersion(deps, p, team, r.experiment, r.tag, r.alias ?? r.version);
    const v = await deps.experiments.getVersion(team, r.experiment, r.tag, version);
    if (!v) {
      const what = version ? `${r.experiment}/${r.tag}@${version}` : `${r.experiment}/${r.tag}`;
      const src = await deps.experiments.getExperiment(team, r.experiment);
      throw new StudioError('E_NOT_FOUND', src ? `artifact ${what} not found` : `experiment ${r.experiment} not found`);
    }
    lineage.push({ as: r.as, experiment: r.experiment, tag: r.tag, version: v.version });
  }
  const now = deps.now();
  const at = now.toISOString();
  const command = redactArgv(body.command);
  const existing = await deps.experiments.getExperiment(team, key);
  if (body.resume) {
    if (!existing) {
      throw new StudioError('E_NOT_FOUND', `experiment ${key} not found: --resume continues an existing experiment`);
    }
    return resumeExperiment(deps, existing, { command, host: body.host, lineage, now });
  }
  if (existing) {
    throw new StudioError('E_EXPERIMENT_EXISTS', `experiment ${key} already exists (use --resume to continue it)`);
  }
  const experiment: ExperimentRecord = {
    team,
    key,
    project: body.project,
    owner: p.userId,
    status: body.queued ? 'queued' : 'running',
    command,
    cwd: body.cwd,
    host: body.host,
    git: body.git && { ...body.git, url: body.git.url === null ? null : redactText(body.git.url) },
    createdAt: at,
    startedAt: body.queued ? null : at,
    finishedAt: null,
    exitCode: null,
    signal: null,
    warnings: [],
    lineage,
    // A queued run's attempts are its job's (core/jobs.ts); a direct run holds a lease from the start.
    attempt: 1,
    attempts: body.queued ? [] : [newAttempt(1, command, body.host, at)],
    lastSeenAt: body.queued ? null : at,
    leaseExpiresAt: body.queued ? null : leaseDeadline(deps, now),
  };
  await deps.experiments.createExperiment(experiment);
  return { experiment, lineage, resumed: false, leaseSeconds: runLeaseSeconds(deps) };
}

function newAttempt(attempt: number, command: string[], host: string | null, at: string): AttemptRecord {
  return {
    attempt,
    status: 'running',
    command,
    host,
    startedAt: at,
    finishedAt: null,
    lastSeenAt: at,
    exitCode: null,
    signal: null,
  };
}

/**
 * `run --resume`: a new attempt of an experiment that ended or was lost. Refused (E_CONFLICT) while it runs with a
 * live lease or is queued; of two racing resumes exactly one wins (compare-and-set on status and attempt).
 */
async function resumeExperiment(
  deps: CoreDeps,
  existing: ExperimentRecord,
  r: { command: string[]; host: string | null; lineage: LineageEntry[]; now: Date },
): Promise<{ experiment: ExperimentRecord; lineage: LineageEntry[]; resumed: boolean; leaseSeconds: number }> {
  const cur = await settleLease(deps, existing);
  if (cur.status === 'running' || cur.status === 'queued') {
    const seen = cur.lastSeenAt ? `, last seen ${cur.lastSeenAt}` : '';
    throw new StudioError(
      'E_CONFLICT',
      `experiment ${cur.key} is ${cur.status} (attempt ${cur.attempt ?? 1} on ${cur.host ?? 'an unknown host'}${seen}); ` +
        'it can be resumed once it ends or its lease lapses',
      { details: { status: cur.status } },
    );
  }
  const at = r.now.toISOString();
  const attempt = (cur.attempt ?? 1) + 1;
  // A resume that names no command (an API client) continues with the previous one.
  const command = r.command.length > 0 ? r.command : cur.command;
  const experiment = await deps.experiments.updateExperiment(
    cur.team,
    cur.key,
    {
      status: 'running',
      command,
      host: r.host,
      finishedAt: null,
      exitCode: null,
      signal: null,
      startedAt: at,
      lineage: resumedLineage(cur.lineage, r.lineage),
      attempt,
      attempts: [...attemptsOf(cur), newAttempt(attempt, command, r.host, at)],
      lastSeenAt: at,
      leaseExpiresAt: leaseDeadline(deps, r.now),
    },
    [...TERMINAL_STATUSES],
    { attempt: cur.attempt ?? 1 },
  );
  return { experiment, lineage: r.lineage, resumed: true, leaseSeconds: runLeaseSeconds(deps) };
}

/**
 * Moves a running experiment to its final status. With `attempt` (a direct run), only that attempt may finish it,
 * also after its lease lapsed (it came back). Throws E_NOT_FOUND, E_LEASE_LOST (another attempt took over),
 * E_CONFLICT if it already ended.
 */
export async function finishExperiment(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  body: Required<FinishExperimentBody>,
): Promise<ExperimentRecord> {
  requireRole(p, team, 'editor');
  assertExperimentKey(key);
  const cur = await deps.experiments.getExperiment(team, key);
  if (!cur) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  const at = deps.now().toISOString();
  const attempt = body.attempt ?? null;
  if (attempt !== null && attempt !== (cur.attempt ?? 1)) {
    throw new StudioError('E_LEASE_LOST', `experiment ${key} was resumed by attempt ${cur.attempt ?? 1}`);
  }
  return deps.experiments.updateExperiment(
    team,
    key,
    {
      status: body.status,
      exitCode: body.exitCode,
      signal: body.signal,
      finishedAt: at,
      warnings: [...cur.warnings, ...body.warnings.map(redactText)].slice(0, 10_000),
      attempts: withCurrentAttempt(cur, {
        status: body.status,
        exitCode: body.exitCode,
        signal: body.signal,
        finishedAt: at,
        ...(attempt === null ? {} : { lastSeenAt: at }),
      }),
      ...(attempt === null ? {} : { lastSeenAt: at }),
      leaseExpiresAt: null,
    },
    attempt === null ? ['running', 'queued'] : ['running', 'queued', 'lost'],
    attempt === null ? undefined : { attempt },
  );
}

/** POST …/heartbeat: renews a direct run's lease (core/run-lease.ts). */
export async function heartbeatExperiment(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  body: { attempt: number },
): Promise<{ status: ExperimentRecord['status']; leaseExpiresAt: string | null; leaseSeconds: number }> {
  requireRole(p, team, 'editor');
  assertExperimentKey(key);
  const cur = await deps.experiments.getExperiment(team, key);
  if (!cur) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  const e = await renewLease(deps, cur, body.attempt);
  return { status: e.status, leaseExpiresAt: e.leaseExpiresAt ?? null, leaseSeconds: runLeaseSeconds(deps) };
}

export async function showExperiment(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
): Promise<ShowExperimentResponse> {
  requireExperimentRead(p, team, key);
  assertExperimentKey(key);
  const found = await deps.experiments.getExperiment(team, key);
  if (!found) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  const experiment = await settleLease(deps, found);
  const [arts, aliases] = await Promise.all([deps.experiments.listArtifacts(team, key), aliasesByTag(deps, team, key)]);
  const artifacts = await Promise.all(
    arts.map(async (a) => ({
      ...a,
      versions: await deps.experiments.listVersions(team, key, a.tag),
      aliases: aliases[a.tag] ?? [],
    })),
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
