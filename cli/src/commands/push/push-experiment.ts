import {
  historyId,
  isStudioError,
  type PushBeginBody,
  pushedRecord,
  type ShowExperimentResponse,
  samePushedRecord,
  TERMINAL_STATUSES,
  type VersionRecord,
} from '@studio-lite/functions/contract';
import type { ApiClient } from '../../api-client.ts';
import { ExitError } from '../../exit-error.ts';
import { type PushItem, renamedLineage } from './push-plan.ts';
import { sendVersionBlobs, type TransferContext } from './push-transfer.ts';

export interface ExperimentPushResult {
  source: string;
  target: string;
  /** `pushed`: the target changed; `up-to-date`: it had everything; `would-push`: --dry-run. */
  outcome: 'pushed' | 'up-to-date' | 'would-push';
  /** The experiment did not exist on the target before. */
  created: boolean;
  /** Versions created on the target (with --dry-run: that would be). */
  versions: number;
  /** With --dry-run: bytes of those versions (an upper bound: the target may hold some of their blobs). */
  bytes: number;
  uploadedBlobs: number;
  uploadedBytes: number;
  presentBlobs: number;
  downloadedBytes: number;
}

export interface PushContext extends TransferContext {
  /** How the source is named on the target's record (`local` or its API URL). */
  from: string;
  host: string;
  dryRun: boolean;
}

function conflict(message: string): ExitError {
  return new ExitError(2, message, 'E_CONFLICT');
}

/** A target-side refusal the user must resolve (history, lineage) exits 2 like the checks made here. */
function userConflict(err: unknown): unknown {
  if (isStudioError(err, 'E_CONFLICT')) {
    const reason = (err.details as { reason?: string } | undefined)?.reason;
    if (reason === 'history' || reason === 'lineage' || reason === 'diverged') return conflict(err.message);
  }
  return err;
}

/** The versions the target lacks, per artifact and in order; refuses histories that diverged. */
function missingVersions(
  it: PushItem,
  tgt: ShowExperimentResponse | null,
): { tag: string; mutable: boolean; version: VersionRecord }[] {
  const out: { tag: string; mutable: boolean; version: VersionRecord }[] = [];
  for (const a of it.show.artifacts) {
    const have = tgt?.artifacts.find((t) => t.tag === a.tag);
    if (have && have.mutable !== a.mutable) {
      throw conflict(`${it.target}/${a.tag} is ${have.mutable ? 'mutable' : 'immutable'} on the target, not here`);
    }
    const theirs = new Map((have?.versions ?? []).map((v) => [v.version, v]));
    const ours = [...a.versions].sort((x, y) => x.version - y.version);
    for (const v of ours) {
      const t = theirs.get(v.version);
      if (!t) out.push({ tag: a.tag, mutable: a.mutable, version: v });
      else if (t.digest !== v.digest) {
        throw conflict(`${it.target}/${a.tag}@${v.version} differs on the target: the histories diverged`);
      }
    }
    if ((have?.latestVersion ?? 0) > (ours[ours.length - 1]?.version ?? 0)) {
      throw conflict(`${it.target}/${a.tag} has newer versions on the target than here: the histories diverged`);
    }
  }
  return out;
}

/**
 * The target's record of one experiment (null: not there), refused when pushing into it would be a conflict (another
 * history under the key, not ended there, diverged versions). Reads only: the command checks every experiment of a
 * push this way before it writes anything, so a conflict anywhere leaves the target as it was.
 */
export async function inspectTarget(target: ApiClient, it: PushItem): Promise<ShowExperimentResponse | null> {
  let tgt: ShowExperimentResponse | null = null;
  try {
    tgt = await target.showExperiment(it.target);
  } catch (err) {
    if (!isStudioError(err, 'E_NOT_FOUND')) throw err;
  }
  if (tgt) {
    if (historyId(tgt.experiment) !== historyId(it.show.experiment)) {
      throw conflict(
        `experiment ${it.target} exists on the target with another history; push it under another key (--as NEWKEY or --prefix P)`,
      );
    }
    if (!TERMINAL_STATUSES.includes(tgt.experiment.status)) {
      throw conflict(`experiment ${it.target} is ${tgt.experiment.status} on the target`);
    }
  }
  missingVersions(it, tgt);
  return tgt;
}

/**
 * The source's aliases the target lacks or points elsewhere (`best` -> the version the source names). Aliases the
 * target has and the source does not are the target's own: left alone.
 */
function missingAliases(it: PushItem, tgt: ShowExperimentResponse | null) {
  const out: { tag: string; name: string; version: number }[] = [];
  for (const a of it.show.artifacts) {
    const theirs = new Map(
      (tgt?.artifacts.find((t) => t.tag === a.tag)?.aliases ?? []).map((x) => [x.name, x.version]),
    );
    for (const x of a.aliases ?? []) {
      if (theirs.get(x.name) !== x.version) out.push({ tag: a.tag, name: x.name, version: x.version });
    }
  }
  return out;
}

/**
 * Pushes one experiment (`tgt`: its record on the target, as inspectTarget read it): opens it on the target (created,
 * or reopened when it is the same history), sends each version the target lacks with its blobs, then closes it with
 * the source's record. Every step is idempotent, so a push killed anywhere is finished by pushing again; a second
 * push of an unchanged experiment reads one record.
 */
export async function pushExperiment(
  ctx: PushContext,
  it: PushItem,
  items: PushItem[],
  tgt: ShowExperimentResponse | null,
): Promise<ExperimentPushResult> {
  const src = it.show.experiment;
  // The plan keeps ended experiments only (push-plan.ts), which is what the body's status allows.
  const record = { ...pushedRecord(src), lineage: renamedLineage(src.lineage, items) } as PushBeginBody['record'];
  const result: ExperimentPushResult = {
    source: it.source,
    target: it.target,
    outcome: 'up-to-date',
    created: false,
    versions: 0,
    bytes: 0,
    uploadedBlobs: 0,
    uploadedBytes: 0,
    presentBlobs: 0,
    downloadedBytes: 0,
  };
  const origin = historyId(src);
  const missing = missingVersions(it, tgt);
  const aliases = missingAliases(it, tgt);
  const recordSame = tgt !== null && samePushedRecord(pushedRecord(tgt.experiment), record);
  if (missing.length === 0 && recordSame && tgt?.experiment.push?.complete !== false) {
    if (aliases.length === 0) return result;
    if (ctx.dryRun) return { ...result, outcome: 'would-push' };
    for (const a of aliases) await ctx.target.setAlias(it.target, a.tag, a.name, { version: a.version });
    return { ...result, outcome: 'pushed' };
  }
  result.created = tgt === null;
  result.versions = missing.length;
  result.bytes = missing.reduce((n, m) => n + m.version.bytes, 0);
  if (ctx.dryRun) return { ...result, outcome: 'would-push' };
  result.versions = 0;
  try {
    await ctx.target.pushBegin(it.target, { origin, from: ctx.from, host: ctx.host, record });
    for (const m of missing) {
      const { version: full } = await ctx.source.getVersion(it.source, m.tag, m.version.version);
      const t = await sendVersionBlobs(
        ctx,
        { experiment: it.source, tag: m.tag, version: m.version.version },
        { experiment: it.target, tag: m.tag },
        full.manifest,
      );
      result.uploadedBlobs += t.uploadedBlobs;
      result.uploadedBytes += t.uploadedBytes;
      result.presentBlobs += t.presentBlobs;
      result.downloadedBytes += t.downloadedBytes;
      const r = await ctx.target.pushVersion(it.target, {
        tag: m.tag,
        mutable: m.mutable,
        version: m.version.version,
        manifest: full.manifest,
        stats: m.version.stats,
        createdBy: m.version.createdBy,
        createdAt: m.version.createdAt,
      });
      if (r.created) result.versions += 1;
    }
    await ctx.target.pushComplete(it.target, {
      record,
      versionsCreated: result.versions,
      uploadedBlobs: result.uploadedBlobs,
      uploadedBytes: result.uploadedBytes,
    });
    // Aliases name versions that are there now; each set is audited on the target like any alias change.
    for (const a of aliases) await ctx.target.setAlias(it.target, a.tag, a.name, { version: a.version });
  } catch (err) {
    throw userConflict(err);
  }
  return { ...result, outcome: 'pushed' };
}
