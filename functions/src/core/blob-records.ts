import { isStudioError, StudioError } from '../contract/errors.ts';
import type { CoreDeps } from './context.ts';
import { parseBlobKey } from './keys.ts';
import type { BlobRecord } from './model.ts';

/**
 * Recording blobs while a GC run may be deleting some of them (docs/architecture.md, "Blob garbage collection"): a
 * `deleting` blob cannot be recorded (putBlobs answers E_CONFLICT with `details.deleting`), so it stays absent and
 * its uploader stores it again. The one place that policy is decided, for commits and for the local storage host.
 */

/** The sha256s a putBlobs E_CONFLICT says are being deleted, or null when `err` is another error. */
function deletingOf(err: unknown): string[] | null {
  if (!isStudioError(err, 'E_CONFLICT')) return null;
  return ((err as StudioError).details?.deleting as string[] | undefined) ?? [];
}

/**
 * A commit records the blobs its manifest needs: all of them, or none with E_BLOB_MISSING naming those a GC run is
 * deleting (the CLI plans and uploads them again).
 */
export async function recordBlobs(deps: CoreDeps, team: string, blobs: BlobRecord[]): Promise<void> {
  try {
    await deps.blobIndex.putBlobs(team, blobs);
  } catch (err) {
    const deleting = deletingOf(err);
    if (deleting === null) throw err;
    throw new StudioError(
      'E_BLOB_MISSING',
      `${deleting.length || 'some'} blob(s) of this version are being garbage-collected; upload them again`,
      {
        details: { missing: deleting.slice(0, 20) },
      },
    );
  }
}

/**
 * Records verified uploads (the local storage host, once per request, so commits need not stat the files again), in
 * one write per team. A blob a GC run is deleting right now stays unrecorded (the commit finds it missing and the
 * client uploads it again); the others are recorded. Keys that are not blob keys are ignored.
 */
export async function recordUploadedBlobs(
  deps: CoreDeps,
  blobs: { key: string; size: number; sha256: string }[],
): Promise<void> {
  const byTeam = new Map<string, BlobRecord[]>();
  for (const b of blobs) {
    const parsed = parseBlobKey(b.key);
    if (!parsed) continue;
    const list = byTeam.get(parsed.team) ?? [];
    list.push({ sha256: b.sha256, size: b.size, verified: true });
    byTeam.set(parsed.team, list);
  }
  for (const [team, list] of byTeam) await putSkippingDeleting(deps, team, list);
}

/** putBlobs; when some are being deleted by a GC run, records the others and leaves those unrecorded. */
async function putSkippingDeleting(deps: CoreDeps, team: string, blobs: BlobRecord[]): Promise<void> {
  try {
    await deps.blobIndex.putBlobs(team, blobs);
  } catch (err) {
    const deleting = deletingOf(err);
    if (deleting === null) throw err;
    const skip = new Set(deleting);
    const rest = blobs.filter((b) => !skip.has(b.sha256));
    if (rest.length) await deps.blobIndex.putBlobs(team, rest);
  }
}

/**
 * Records the members of a registered pack at their place in it (verified). Members already recorded verified keep
 * the place they have; a member a GC run is deleting right now stays unrecorded (its commit finds it missing and the
 * client uploads it again).
 */
export async function recordPackedBlobs(deps: CoreDeps, team: string, blobs: BlobRecord[]): Promise<void> {
  await putSkippingDeleting(deps, team, blobs);
}
