import { isStudioError, StudioError } from '../contract/errors.ts';
import {
  type ExperimentRecord,
  type Principal,
  type RetentionPolicy,
  type RetentionRules,
  TERMINAL_STATUSES,
} from '../contract/model.ts';
import { assertProject } from '../contract/names.ts';
import { RETENTION_REPORT_MAX, type RetentionReport } from '../contract/results.ts';
import type { ApplyRetentionBody, SetRetentionBody } from '../contract/schemas.ts';
import { recordAudit } from './audit.ts';
import { requireRole, requireUserCredential } from './authz.ts';
import type { CoreDeps } from './context.ts';
import type { RetentionStore } from './ports.ts';
import { hasVersionRules, keptVersions } from './retention-rules.ts';

/**
 * Retention policies (issue 18): per team and per project (a project's replaces the team's), kept by the
 * RetentionStore port. Applying one deletes the versions of mutable artifacts its keep rules do not keep
 * (retention-rules.ts) and the experiments that ended more than `expireDays` ago; their blobs are then freed by the
 * usual two-phase GC. Never deleted: the latest version of an artifact, a version with an alias, a version some
 * experiment's lineage reuses (nor an experiment holding one), anything of a running or queued experiment.
 */

/** Experiments one run reads at most (like GC: the lineage it protects must be whole). */
export const RETENTION_MAX_EXPERIMENTS = 10_000;

function store(deps: CoreDeps): RetentionStore {
  if (!deps.retention) throw new StudioError('E_UNAVAILABLE', 'this backend has no retention policies');
  return deps.retention;
}

export async function listRetention(deps: CoreDeps, p: Principal, team: string): Promise<RetentionPolicy[]> {
  requireRole(p, team, 'viewer');
  return store(deps).listPolicies(team);
}

export async function setRetention(
  deps: CoreDeps,
  p: Principal,
  team: string,
  body: SetRetentionBody & { project: string | null },
): Promise<RetentionPolicy> {
  requireUserCredential(p, 'set retention policies');
  requireRole(p, team, 'admin');
  if (body.project !== null) assertProject(body.project);
  const policy: RetentionPolicy = {
    team,
    project: body.project,
    keepLast: body.keepLast ?? null,
    keepEvery: body.keepEvery ?? null,
    keepWithinHours: body.keepWithinHours ?? null,
    keepHourly: body.keepHourly ?? null,
    keepDaily: body.keepDaily ?? null,
    expireDays: body.expireDays ?? null,
    updatedAt: deps.now().toISOString(),
    updatedBy: p.userId,
  };
  await store(deps).setPolicy(policy);
  const { team: _t, updatedAt: _a, updatedBy: _b, ...rules } = policy;
  await recordAudit(deps, p, team, 'retention.set', body.project ?? team, rules);
  return policy;
}

export async function clearRetention(
  deps: CoreDeps,
  p: Principal,
  team: string,
  project: string | null,
): Promise<RetentionPolicy | null> {
  requireUserCredential(p, 'clear retention policies');
  requireRole(p, team, 'admin');
  if (project !== null) assertProject(project);
  const removed = await store(deps).deletePolicy(team, project);
  if (removed) await recordAudit(deps, p, team, 'retention.clear', project ?? team, {});
  return removed;
}

/** Every experiment of the team, oldest last (paged by the store's cursor). */
async function allExperiments(deps: CoreDeps, team: string): Promise<ExperimentRecord[]> {
  const out: ExperimentRecord[] = [];
  let after: { createdAt: string; key: string } | undefined;
  for (;;) {
    const page = await deps.experiments.listExperiments(team, { limit: 1000, after });
    out.push(...page);
    const last = page[page.length - 1];
    if (!last || page.length < 1000) return out;
    if (out.length >= RETENTION_MAX_EXPERIMENTS) {
      throw new StudioError(
        'E_TOO_LARGE',
        `team ${team} has ${RETENTION_MAX_EXPERIMENTS} or more experiments, more than one retention run reads; nothing was changed`,
      );
    }
    after = { createdAt: last.createdAt, key: last.key };
  }
}

const ref = (exp: string, tag: string, v: number) => `${exp}\0${tag}\0${v}`;

/**
 * Applies the team's policies now (or, dry, says what they would delete). `rules`: a policy to preview for
 * `project` (or the team) before it is saved. Admins apply; anyone who can read the team may dry-run.
 */
export async function applyRetention(
  deps: CoreDeps,
  p: Principal,
  team: string,
  body: ApplyRetentionBody & { dryRun: boolean; project: string | null; rules: RetentionRules | null },
): Promise<RetentionReport> {
  if (body.dryRun) requireRole(p, team, 'viewer');
  else {
    requireUserCredential(p, 'apply retention policies');
    requireRole(p, team, 'admin');
  }
  // A project no experiment can have (E_BAD_KEY, as where experiments are created) names nothing to keep or delete.
  if (body.project !== null) assertProject(body.project);
  return runRetention(deps, team, body, body.dryRun ? null : p);
}

/**
 * The run itself, also what the scheduled task calls (actor null: a dry run; a scheduled run passes the system
 * principal it audits as).
 */
export async function runRetention(
  deps: CoreDeps,
  team: string,
  o: { dryRun: boolean; project: string | null; rules: RetentionRules | null },
  actor: Principal | null,
): Promise<RetentionReport> {
  const policies = await store(deps).listPolicies(team);
  const teamRules: RetentionRules | null =
    o.rules && o.project === null ? o.rules : (policies.find((x) => x.project === null) ?? null);
  const byProject = new Map<string, RetentionRules>(
    policies.filter((x) => x.project !== null).map((x) => [x.project as string, x]),
  );
  if (o.rules && o.project !== null) byProject.set(o.project, o.rules);
  const rulesFor = (e: ExperimentRecord): RetentionRules | null =>
    (e.project !== null ? byProject.get(e.project) : undefined) ?? teamRules;

  const report: RetentionReport = {
    dryRun: o.dryRun,
    experiments: 0,
    expired: [],
    versionsDeleted: 0,
    bytes: 0,
    deletions: [],
    protected: [],
    truncated: false,
  };
  const protect = (x: RetentionReport['protected'][number]) => {
    if (report.protected.length < RETENTION_REPORT_MAX) report.protected.push(x);
    else report.truncated = true;
  };
  const experiments = await allExperiments(deps, team);
  // Every version some experiment reuses (any status: a finished run's lineage must keep pointing at something).
  const reused = new Set<string>();
  for (const e of experiments) for (const l of e.lineage) reused.add(ref(l.experiment, l.tag, l.version));
  const now = deps.now();
  for (const e of experiments) {
    if (o.project !== null && e.project !== o.project) continue;
    const rules = rulesFor(e);
    if (!rules) continue;
    report.experiments += 1;
    if (!TERMINAL_STATUSES.includes(e.status)) {
      protect({ experiment: e.key, tag: null, version: null, reason: 'running' });
      continue;
    }
    const aliases = deps.aliases ? await deps.aliases.listAliases(team, e.key) : [];
    const aliased = new Set(aliases.map((a) => ref(e.key, a.tag, a.version)));
    const artifacts = await deps.experiments.listArtifacts(team, e.key);
    const expiring =
      rules.expireDays !== null &&
      Date.parse(e.finishedAt ?? e.createdAt) < now.getTime() - rules.expireDays * 86_400_000;
    const rotating = hasVersionRules(rules);
    if (!expiring && !rotating) continue;
    // Each artifact's versions, read once, with the versions that stay whatever a rule says (alias, lineage).
    // (Immutable artifacts have one version, never rotated: read only to decide an expiry.)
    const read = await Promise.all(
      artifacts
        .filter((a) => expiring || a.mutable)
        .map(async (a) => {
          const versions = await deps.experiments.listVersions(team, e.key, a.tag);
          const held = new Map<number, 'alias' | 'lineage'>();
          for (const v of versions) {
            const r = ref(e.key, a.tag, v.version);
            if (aliased.has(r)) held.set(v.version, 'alias');
            else if (reused.has(r)) held.set(v.version, 'lineage');
          }
          return { artifact: a, versions, held };
        }),
    );
    if (expiring) {
      if (read.every((x) => x.held.size === 0)) {
        if (!o.dryRun && !(await expire(deps, team, e.key))) continue;
        report.expired.push(e.key);
        continue;
      }
      // Kept for what it holds (each held version reported once, here); its versions are still rotated below.
      for (const x of read) {
        for (const [version, reason] of x.held) protect({ experiment: e.key, tag: x.artifact.tag, version, reason });
      }
    }
    if (!rotating) continue;
    for (const { artifact: a, versions, held } of read) {
      if (!a.mutable) continue;
      const kept = keptVersions(versions, rules, now, held);
      if (!expiring) {
        // Protected: kept for its alias or lineage alone, no rule would have kept it.
        for (const [v, why] of held) {
          if (kept.get(v)?.every((r) => r === 'alias' || r === 'lineage')) {
            protect({ experiment: e.key, tag: a.tag, version: v, reason: why });
          }
        }
      }
      const doomed = versions.filter((v) => !kept.has(v.version));
      if (doomed.length === 0) continue;
      const gone = o.dryRun
        ? doomed.map((v) => v.version)
        : await deps.experiments.deleteVersions(
            team,
            e.key,
            a.tag,
            doomed.map((v) => v.version),
          );
      if (gone.length === 0) continue;
      const goneSet = new Set(gone);
      report.versionsDeleted += gone.length;
      report.bytes += doomed.filter((v) => goneSet.has(v.version)).reduce((n, v) => n + v.bytes, 0);
      if (report.deletions.length < RETENTION_REPORT_MAX) {
        report.deletions.push({ experiment: e.key, tag: a.tag, versions: gone.sort((x, y) => x - y) });
      } else report.truncated = true;
    }
  }
  if (actor && (report.versionsDeleted > 0 || report.expired.length > 0)) {
    await recordAudit(deps, actor, team, 'retention.apply', o.project ?? team, {
      versionsDeleted: report.versionsDeleted,
      bytes: report.bytes,
      expired: report.expired.length,
      expiredKeys: report.expired.slice(0, 100),
    });
  }
  return report;
}

/** Deletes an expired experiment unless it came back to life meanwhile; false when another run took it first. */
async function expire(deps: CoreDeps, team: string, key: string): Promise<boolean> {
  const cur = await deps.experiments.getExperiment(team, key);
  if (!cur || !TERMINAL_STATUSES.includes(cur.status)) return false;
  try {
    await deps.experiments.deleteExperiment(team, key);
  } catch (err) {
    if (isStudioError(err, 'E_NOT_FOUND')) return false;
    throw err;
  }
  await deps.aliases?.deleteExperimentAliases(team, key);
  return true;
}
