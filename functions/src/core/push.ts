import { StudioError } from '../contract/errors.ts';
import { manifestDigest, parseManifest } from '../contract/manifest.ts';
import {
  type ExperimentRecord,
  type LineageEntry,
  type Principal,
  TERMINAL_STATUSES,
  type VersionRecord,
} from '../contract/model.ts';
import { assertExperimentKey, assertTag } from '../contract/names.ts';
import { historyId, type PushedRecord } from '../contract/push.ts';
import type { PushBeginBody, PushCompleteBody, PushVersionBody } from '../contract/schemas.ts';
import type { PushBeginResponse } from '../contract/wire.ts';
import { requireBlobSizes, storeVersion } from './artifacts.ts';
import { recordAudit } from './audit.ts';
import { isUserCredential, requireAnswerable, requireRole } from './authz.ts';
import type { CoreDeps } from './context.ts';

/**
 * Experiments brought from another backend (`studio-lite push`): the target opens the experiment for the push
 * (begin), receives its versions one by one with their numbers, creators and times (the blobs go through the usual
 * plan, signed uploads and pack registration, verified as for a capture), then closes it with the source's record
 * (complete). Every step is idempotent, so an interrupted push is finished by running it again.
 */

/** A person with the editor role on the team: worker and job tokens never push. */
function requirePusher(p: Principal, team: string): void {
  if (!isUserCredential(p)) throw new StudioError('E_FORBIDDEN', `a ${p.kind} token cannot push experiments`);
  requireRole(p, team, 'editor');
}

/** The lineage of a pushed record must name versions this team has (pushed earlier, or its own). */
async function requireLineage(deps: CoreDeps, team: string, key: string, lineage: LineageEntry[]): Promise<void> {
  const missing: string[] = [];
  for (const l of lineage) {
    const v = await deps.experiments.getVersion(team, l.experiment, l.tag, l.version);
    if (!v) missing.push(`${l.experiment}/${l.tag}@${l.version}`);
  }
  if (missing.length) {
    throw new StudioError(
      'E_CONFLICT',
      `${key} reuses ${missing.join(', ')}, not on this backend: push ${missing.length > 1 ? 'them' : 'it'} first (--with-lineage)`,
      { details: { reason: 'lineage', missing } },
    );
  }
}

function conflictingHistory(key: string): StudioError {
  return new StudioError(
    'E_CONFLICT',
    `experiment ${key} exists here with another history; push under another key (--as NEWKEY or --prefix P)`,
    { details: { reason: 'history' } },
  );
}

/** The record of a pushed experiment: the source's fields as they are, the push's own marker. */
function recordOf(team: string, key: string, r: PushedRecord, push: ExperimentRecord['push']): ExperimentRecord {
  return { ...r, team, key, leaseExpiresAt: null, push } as ExperimentRecord;
}

async function receiving(deps: CoreDeps, p: Principal, team: string, key: string): Promise<ExperimentRecord> {
  const exp = await deps.experiments.getExperiment(team, key);
  if (!exp) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  if (exp.push?.complete !== false) {
    throw new StudioError('E_CONFLICT', `experiment ${key} is not receiving a push (PUT …/push first)`);
  }
  // Pushing over an existing experiment rewrites its record: whoever may delete it (its origin is no secret).
  requireAnswerable(p, team, exp, 'push over');
  return exp;
}

/** PUT /v1/experiments/:key/push: creates the experiment, or reopens one of the same history, for a push. */
export async function beginPush(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  body: PushBeginBody & { record: PushedRecord },
): Promise<PushBeginResponse> {
  requirePusher(p, team);
  assertExperimentKey(key);
  await requireLineage(deps, team, key, body.record.lineage);
  const push = {
    origin: body.origin,
    from: body.from,
    by: p.userId,
    host: body.host ?? null,
    at: deps.now().toISOString(),
    complete: false,
  };
  const cur = await deps.experiments.getExperiment(team, key);
  if (!cur) {
    try {
      const experiment = recordOf(team, key, body.record, push);
      await deps.experiments.createExperiment(experiment);
      return { experiment, created: true };
    } catch (err) {
      // Another push of the same experiment created it first: continue below as a reopen.
      if (!(err instanceof StudioError && err.code === 'E_EXPERIMENT_EXISTS')) throw err;
    }
  }
  const existing = cur ?? (await deps.experiments.getExperiment(team, key));
  if (!existing) throw new StudioError('E_CONFLICT', `experiment ${key} changed meanwhile; push again`);
  if (historyId(existing) !== body.origin) throw conflictingHistory(key);
  if (!TERMINAL_STATUSES.includes(existing.status)) {
    throw new StudioError('E_CONFLICT', `experiment ${key} is ${existing.status} here; push it when it has ended`);
  }
  requireAnswerable(p, team, existing, 'push over');
  const experiment = await deps.experiments.updateExperiment(team, key, { push }, [...TERMINAL_STATUSES]);
  return { experiment, created: false };
}

/** POST …/push/versions: appends exactly version `version` (the same digest again is a no-op). */
export async function pushVersion(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  body: PushVersionBody & { stats: VersionRecord['stats'] },
): Promise<{ version: VersionRecord; created: boolean }> {
  requirePusher(p, team);
  assertExperimentKey(key);
  assertTag(body.tag);
  const manifest = parseManifest(body.manifest);
  requireBlobSizes(deps, manifest.files);
  await receiving(deps, p, team, key);
  const digest = manifestDigest(manifest);
  const art = (await deps.experiments.listArtifacts(team, key)).find((a) => a.tag === body.tag);
  const latest = art?.latestVersion ?? 0;
  if (art && art.mutable !== body.mutable) {
    throw new StudioError('E_CONFLICT', `artifact ${key}/${body.tag} is ${art.mutable ? 'mutable' : 'immutable'} here`);
  }
  if (body.version <= latest) {
    const have = await deps.experiments.getVersion(team, key, body.tag, body.version);
    if (have?.digest === digest) return { version: have, created: false };
    throw new StudioError(
      'E_CONFLICT',
      `${key}/${body.tag}@${body.version} exists here with other content: the histories diverged`,
      { details: { reason: 'diverged' } },
    );
  }
  if (body.version !== latest + 1) {
    throw new StudioError(
      'E_CONFLICT',
      `${key}/${body.tag} has ${latest} version(s) here; version ${body.version} cannot come next`,
      { details: { reason: 'gap', latest } },
    );
  }
  const r = await storeVersion(deps, p, team, key, body.tag, {
    mutable: body.mutable,
    manifest,
    digest,
    stats: body.stats,
    createdBy: body.createdBy,
    createdAt: body.createdAt,
  });
  if (r.version.version !== body.version) {
    // A racing writer took the number with other content (the digest test above saw it absent).
    throw new StudioError('E_CONFLICT', `${key}/${body.tag}@${body.version} was taken meanwhile`, {
      details: { reason: 'diverged' },
    });
  }
  return r;
}

/** POST …/push/complete: the record as the source has it, the push marked complete, one audit entry. */
export async function completePush(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  body: PushCompleteBody & { record: PushedRecord },
): Promise<{ experiment: ExperimentRecord }> {
  requirePusher(p, team);
  assertExperimentKey(key);
  const cur = await receiving(deps, p, team, key);
  await requireLineage(deps, team, key, body.record.lineage);
  const push = { ...(cur.push as NonNullable<ExperimentRecord['push']>), complete: true };
  const { team: _t, key: _k, ...fields } = recordOf(team, key, body.record, push);
  const experiment = await deps.experiments.updateExperiment(team, key, fields, [...TERMINAL_STATUSES]);
  await recordAudit(deps, p, team, 'experiment.push', key, {
    from: push.from,
    host: push.host,
    origin: push.origin,
    owner: body.record.owner,
    versionsCreated: body.versionsCreated,
    uploadedBlobs: body.uploadedBlobs,
    uploadedBytes: body.uploadedBytes,
  });
  return { experiment };
}
