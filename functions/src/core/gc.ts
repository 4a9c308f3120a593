import { createHash, randomBytes } from 'node:crypto';
import pLimit from 'p-limit';
import { isStudioError, StudioError } from '../contract/errors.ts';
import type { Principal } from '../contract/model.ts';
import type { Amount, GcReport } from '../contract/results.ts';
import { loadManifest } from './artifacts.ts';
import { recordAudit } from './audit.ts';
import { requireRole, requireUserCredential } from './authz.ts';
import type { CoreDeps } from './context.ts';
import { blobKey, blobPrefix, packKey, packPrefix, parseBlobKey, parsePackKey, stagingPrefix } from './keys.ts';
import type { StoredBlobRecord } from './model.ts';
import { packIdOf, registerWindowSeconds } from './packs.ts';

/**
 * Blob garbage collection, in two phases so that it never deletes a blob a version needs:
 *
 * 1. Mark: every version of every experiment of the team is read, with its manifest; the blobs they list (and the
 *    manifests themselves) are referenced.
 * 2. Sweep the blob records: a referenced record that an earlier run condemned is absolved; an unreferenced record
 *    is condemned (`condemnedAt` = this run's start); an unreferenced record condemned at least `grace` ago is
 *    deleted: compare-and-set to `deleting` (only if its `condemnedAt` is unchanged), then the object, then the
 *    record. A record left `deleting` by a crashed run is finished.
 * 3. Objects storage holds without any record (uploads whose capture never committed) older than `grace` are
 *    condemned too (a record is created for them), so the next run deletes them the same way.
 *
 * Why this is safe while captures run: a commit that needs a condemned blob clears `condemnedAt` (putBlobs) before
 * its version exists, which makes the later compare-and-set fail; a blob marked `deleting` counts as absent and
 * cannot be recorded again, so such a commit fails with E_BLOB_MISSING and the client uploads it anew; and a commit
 * that checked its blobs just before they were condemned finishes within the host's request timeout, which the
 * minimum grace exceeds, so the run that could delete them sees its version.
 */

/** One hour: longer than the longest request any host allows (Cloud Functions: at most 3600 s). */
export const GC_MIN_GRACE_SECONDS = 3600;
export const GC_DEFAULT_GRACE_SECONDS = 24 * 3600;
export const GC_MAX_GRACE_SECONDS = 90 * 24 * 3600;
/** A team with this many experiments is refused: listExperiments cannot return more, and the mark must be whole. */
const GC_MAX_EXPERIMENTS = 10_000;
const PAGE = 500;
const CONCURRENCY = 8;

export interface GcRequest {
  /** Seconds an unreferenced blob stays condemned before a run may delete it. */
  graceSeconds?: number;
  /** Count what a run would do; change nothing. */
  dryRun?: boolean;
}

const zero = (): Amount => ({ blobs: 0, bytes: 0 });
const add = (a: Amount, bytes: number) => {
  a.blobs += 1;
  a.bytes += bytes;
};

/** Runs `fn` over `items` with at most CONCURRENCY at a time. */
async function eachLimited<T>(items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  const limit = pLimit(CONCURRENCY);
  await Promise.all(items.map((item) => limit(() => fn(item))));
}

function validGrace(deps: CoreDeps, req: GcRequest): number {
  const min = deps.gcMinGraceSeconds ?? GC_MIN_GRACE_SECONDS;
  const grace = req.graceSeconds ?? Math.max(GC_DEFAULT_GRACE_SECONDS, min);
  if (!Number.isSafeInteger(grace) || grace < min || grace > GC_MAX_GRACE_SECONDS) {
    throw new StudioError(
      'E_BAD_REQUEST',
      `grace must be a whole number of seconds from ${min} to ${GC_MAX_GRACE_SECONDS} (it must outlast any request)`,
      { details: { min, max: GC_MAX_GRACE_SECONDS } },
    );
  }
  return grace;
}

/** Every blob the team's versions reference, with its size (the mark). */
async function mark(deps: CoreDeps, team: string) {
  const experiments = await deps.experiments.listExperiments(team, { limit: GC_MAX_EXPERIMENTS });
  if (experiments.length >= GC_MAX_EXPERIMENTS) {
    throw new StudioError(
      'E_UNAVAILABLE',
      `team ${team} has ${GC_MAX_EXPERIMENTS} or more experiments, more than one gc run can read; nothing was changed`,
    );
  }
  const referenced = new Map<string, number>();
  const manifests: { sha256: string }[] = [];
  for (const exp of experiments) {
    for (const art of await deps.experiments.listArtifacts(team, exp.key)) {
      for (const v of await deps.experiments.listVersions(team, exp.key, art.tag))
        manifests.push({ sha256: v.manifestSha256 });
    }
  }
  await eachLimited(manifests, async ({ sha256 }) => {
    let m: Awaited<ReturnType<typeof loadManifest>>;
    try {
      m = await loadManifest(deps, team, sha256);
    } catch (err) {
      // A version without its manifest cannot say which blobs it needs: stop before deleting anything.
      const what = isStudioError(err, 'E_NOT_FOUND') ? 'is missing' : 'cannot be read';
      throw new StudioError('E_INTERNAL', `manifest ${sha256} of team ${team} ${what}; gc stopped, nothing deleted`, {
        cause: err,
      });
    }
    for (const f of m.files) referenced.set(f.sha256, f.size);
  });
  // Manifests are blobs too (their size is only known from the record: filled in by the sweep).
  for (const { sha256 } of manifests) if (!referenced.has(sha256)) referenced.set(sha256, -1);
  return { experiments: experiments.length, versions: manifests.length, referenced };
}

/**
 * Removes a blob whose record is `deleting`: the object first, then the record. A packed blob has no object of its
 * own: its record goes, and its pack is deleted once no record points into it (deletePacks).
 */
async function remove(deps: CoreDeps, team: string, r: StoredBlobRecord): Promise<void> {
  if (!r.pack) await deps.blobs.delete(blobKey(team, r.sha256));
  await deps.blobIndex.finishBlobDelete(team, r.sha256);
}

/** A pack whose live members fill less than this share of it is rewritten with only them (restic's prune). */
export const REPACK_BELOW = 0.5;

type LiveMember = { sha256: string; size: number; offset: number };

/**
 * The team's packs, after the records were swept (`live`: the members some record still places in each pack).
 * A pack no record points into is deleted; one whose live members fill less than REPACK_BELOW of it is repacked:
 * its live members (each re-hashed) are written to a new pack, their records moved there one compare-and-set each,
 * and the old pack, now pointed into by nothing, is deleted by a later run. Only packs older than `cutoff` (the
 * grace plus the time a pack may still be registered, core/packs.ts) are touched: after that no record can be
 * added to them, so nothing races the delete. A download signed before a repack and sent after the old pack is
 * gone gets 404 and is signed again (cli/src/transfer/download.ts).
 */
async function sweepPacks(
  deps: CoreDeps,
  team: string,
  live: Map<string, LiveMember[]>,
  cutoff: number,
  dryRun: boolean,
  report: NonNullable<GcReport['packs']>,
): Promise<void> {
  for (let after: string | undefined; ; ) {
    const objects = await deps.blobs.list(packPrefix(team), { after, limit: PAGE });
    if (objects.length === 0) break;
    after = objects[objects.length - 1]?.key;
    const dead = [];
    const sparse: { key: string; size: number; members: LiveMember[] }[] = [];
    for (const o of objects) {
      const parsed = parsePackKey(o.key);
      if (!parsed || parsed.team !== team) continue;
      const members = live.get(parsed.id);
      const old = Date.parse(o.createdAt) <= cutoff;
      if (!members) {
        if (old) dead.push(o);
        continue;
      }
      const used = members.reduce((n, m) => n + m.size, 0);
      if (old && used < o.size * REPACK_BELOW) sparse.push({ key: o.key, size: o.size, members });
      else add(report.live, o.size);
    }
    if (!dryRun) await eachLimited(dead, (o) => deps.blobs.delete(o.key));
    for (const o of dead) add(report.deleted, o.size);
    for (const p of sparse) {
      const used = p.members.reduce((n, m) => n + m.size, 0);
      if (!dryRun) await repack(deps, team, p.key, p.members);
      add(report.repacked, p.size - used);
    }
  }
}

/** Rewrites a pack's live members into a new pack and moves their records there (see sweepPacks). */
async function repack(deps: CoreDeps, team: string, key: string, members: LiveMember[]): Promise<void> {
  const sorted = [...members].sort((a, b) => a.offset - b.offset);
  // One read of the whole pack (at most LIMITS.packMaxBytes): one storage operation, not one per member.
  const chunks: Uint8Array[] = [];
  for await (const c of await deps.blobs.read(key)) chunks.push(c);
  const whole = Buffer.concat(chunks);
  const parts: Buffer[] = [];
  for (const m of sorted) {
    const data = whole.subarray(m.offset, m.offset + m.size);
    if (data.length !== m.size || createHash('sha256').update(data).digest('hex') !== m.sha256) {
      // Never copy bad bytes forward: the member stays where it is (a download of it fails its check).
      throw new StudioError('E_INTERNAL', `pack member ${m.sha256} of ${key} does not match its hash; gc stopped`);
    }
    parts.push(data);
  }
  const nonce = randomBytes(16).toString('hex');
  const id = packIdOf(
    nonce,
    sorted.map((m) => ({ sha256: m.sha256, size: m.size })),
  );
  await deps.blobs.put(packKey(team, id), Buffer.concat(parts), 'application/octet-stream');
  const from = parsePackKey(key)?.id as string;
  let offset = 0;
  const moves = sorted.map((m) => {
    const move = { sha256: m.sha256, from: { id: from, offset: m.offset }, to: { id, offset } };
    offset += m.size;
    return move;
  });
  await deps.blobIndex.movePackedBlobs(team, moves);
}

/** One GC run over a team's blobs (team admins, with their own credential). Audited unless a dry run. */
export async function collectGarbage(deps: CoreDeps, p: Principal, team: string, req: GcRequest): Promise<GcReport> {
  requireUserCredential(p, 'collect garbage');
  requireRole(p, team, 'admin');
  const graceSeconds = validGrace(deps, req);
  const dryRun = req.dryRun === true;
  const start = deps.now();
  const at = start.toISOString();
  const cutoff = start.getTime() - graceSeconds * 1000;
  const m = await mark(deps, team);
  const report: GcReport = {
    team,
    dryRun,
    graceSeconds,
    startedAt: at,
    finishedAt: at,
    experiments: m.experiments,
    versions: m.versions,
    referenced: zero(),
    deleted: zero(),
    condemned: zero(),
    unrecorded: zero(),
    pending: zero(),
    absolved: 0,
    staged: zero(),
    packs: { deleted: zero(), live: zero(), repacked: zero() },
    deleteAfter: null,
  };
  // Packs some record points into after this run, with those members (a record this run deletes does not count).
  const livePacks = new Map<string, LiveMember[]>();
  const keep = (r: StoredBlobRecord) => {
    if (!r.pack) return;
    const list = livePacks.get(r.pack.id) ?? [];
    list.push({ sha256: r.sha256, size: r.size, offset: r.pack.offset });
    livePacks.set(r.pack.id, list);
  };

  const counted = new Set<string>();
  const doomedNow = (r: StoredBlobRecord) =>
    !m.referenced.has(r.sha256) && (r.deleting || (!!r.condemnedAt && Date.parse(r.condemnedAt) <= cutoff));
  // Sweep the records, one page at a time (the sha256 cursor is stable under the changes made behind it).
  for (let after: string | undefined; ; ) {
    const page: StoredBlobRecord[] = await deps.blobIndex.listBlobs(team, { after, limit: PAGE });
    if (page.length === 0) break;
    after = page[page.length - 1]?.sha256;
    const absolve: string[] = [];
    const condemn: { sha256: string; size: number }[] = [];
    const doomed: StoredBlobRecord[] = [];
    for (const r of page) {
      if (!doomedNow(r)) keep(r);
      if (m.referenced.has(r.sha256)) {
        add(report.referenced, r.size);
        counted.add(r.sha256);
        if (r.condemnedAt && !r.deleting) absolve.push(r.sha256);
      } else if (doomedNow(r)) {
        doomed.push(r);
      } else if (r.condemnedAt) {
        add(report.pending, r.size);
      } else {
        condemn.push({ sha256: r.sha256, size: r.size });
      }
    }
    report.absolved += absolve.length;
    if (dryRun) {
      for (const r of doomed) add(report.deleted, r.size);
      for (const c of condemn) add(report.condemned, c.size);
      continue;
    }
    if (absolve.length) await deps.blobIndex.absolveBlobs(team, absolve);
    if (condemn.length) {
      const changed = new Set(await deps.blobIndex.condemnBlobs(team, condemn, at));
      for (const c of condemn) if (changed.has(c.sha256)) add(report.condemned, c.size);
    }
    await eachLimited(doomed, async (r) => {
      // A commit that needed the blob since it was condemned cleared condemnedAt: then this is refused and it stays.
      if (!r.deleting && !(await deps.blobIndex.beginBlobDelete(team, r.sha256, r.condemnedAt as string))) {
        report.absolved += 1;
        keep(r);
        return;
      }
      await remove(deps, team, r);
      add(report.deleted, r.size);
    });
  }
  // Referenced blobs without a record (not expected: commits record every blob) still count as referenced.
  for (const [sha, size] of m.referenced) if (!counted.has(sha)) add(report.referenced, Math.max(size, 0));

  // Objects without a record, old enough not to be an upload whose commit is still coming.
  for (let after: string | undefined; ; ) {
    const objects = await deps.blobs.list(blobPrefix(team), { after, limit: PAGE });
    if (objects.length === 0) break;
    after = objects[objects.length - 1]?.key;
    const candidates = new Map<string, number>();
    for (const o of objects) {
      const parsed = parseBlobKey(o.key);
      if (!parsed || parsed.team !== team || m.referenced.has(parsed.sha256)) continue;
      if (Date.parse(o.createdAt) > cutoff) continue;
      candidates.set(parsed.sha256, o.size);
    }
    if (candidates.size === 0) continue;
    const known = await deps.blobIndex.findBlobs(team, [...candidates.keys()]);
    const orphans = [...candidates].filter(([sha]) => !known.has(sha)).map(([sha256, size]) => ({ sha256, size }));
    if (orphans.length === 0) continue;
    if (dryRun) {
      for (const o of orphans) {
        add(report.condemned, o.size);
        add(report.unrecorded, o.size);
      }
      continue;
    }
    // condemnBlobs creates records only where none exists (a deleting one is left to the record sweep).
    const changed = new Set(await deps.blobIndex.condemnBlobs(team, orphans, at));
    for (const o of orphans) {
      if (!changed.has(o.sha256)) continue;
      add(report.condemned, o.size);
      add(report.unrecorded, o.size);
    }
  }

  // A job's staged upload is promoted by the commit right after it, or never: one older than the grace is abandoned
  // (its next capture plans and uploads again), so it goes in one step.
  for (let after: string | undefined; ; ) {
    const objects = await deps.blobs.list(stagingPrefix(team), { after, limit: PAGE });
    if (objects.length === 0) break;
    after = objects[objects.length - 1]?.key;
    const old = objects.filter((o) => Date.parse(o.createdAt) <= cutoff);
    if (!dryRun) await eachLimited(old, (o) => deps.blobs.delete(o.key));
    for (const o of old) add(report.staged, o.size);
  }

  // Packs: after the records, so the set of packs still pointed into is complete.
  const packCutoff = start.getTime() - (graceSeconds + registerWindowSeconds(deps)) * 1000;
  await sweepPacks(deps, team, livePacks, packCutoff, dryRun, report.packs as NonNullable<GcReport['packs']>);

  if (report.condemned.blobs > 0) report.deleteAfter = new Date(start.getTime() + graceSeconds * 1000).toISOString();
  report.finishedAt = deps.now().toISOString();
  if (!dryRun) {
    await recordAudit(deps, p, team, 'blobs.gc', team, {
      graceSeconds,
      versions: report.versions,
      referenced: report.referenced,
      deleted: report.deleted,
      condemned: report.condemned,
      pending: report.pending,
      absolved: report.absolved,
      packs: report.packs,
    });
  }
  return report;
}
