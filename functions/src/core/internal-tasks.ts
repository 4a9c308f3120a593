import { createHash } from 'node:crypto';
import { isStudioError } from '../contract/errors.ts';
import type { CoreDeps } from './context.ts';
import { blobKey } from './keys.ts';
import { VERIFY_BLOB_ROUTE } from './task-queue.ts';

export interface VerifyBlobTask {
  team: string;
  sha256: string;
  size: number;
}

/**
 * What a verify-blob run found. Each outcome is final (the route answers 2xx, so the queue does not retry); only a
 * thrown error (storage unavailable, …) asks the queue for another attempt.
 */
export type VerifyBlobOutcome = 'verified' | 'missing' | 'corrupt';

/**
 * A dedup name for verifying one blob: a second request for the same bytes collapses into the first. The team is
 * hex-encoded because team ids may contain '.', which task names may not.
 */
export function verifyBlobTaskName(t: Pick<VerifyBlobTask, 'team' | 'sha256'>): string {
  return `verify-${t.sha256}-${Buffer.from(t.team, 'utf8').toString('hex')}`;
}

/** The enqueue request for a verify-blob task. */
export function verifyBlobTask(t: VerifyBlobTask, scheduleTime?: Date) {
  return {
    name: verifyBlobTaskName(t),
    route: VERIFY_BLOB_ROUTE,
    body: t,
    ...(scheduleTime ? { scheduleTime } : {}),
  };
}

/**
 * Re-hashes a stored blob through the BlobStore. Matching bytes are recorded as verified (with the size actually
 * stored; `size` is the uploader's claim and only a hint); bytes that do not match their name are deleted so a correct
 * upload can take their place. An absent object is reported as missing (nothing to verify yet, nothing to undo).
 * Throws what the stores throw (E_UNAVAILABLE, …), which makes the queue retry.
 */
export async function verifyBlob(deps: CoreDeps, t: VerifyBlobTask): Promise<VerifyBlobOutcome> {
  const key = blobKey(t.team, t.sha256);
  if (!(await deps.blobs.stat(key))) return 'missing';
  const h = createHash('sha256');
  let size = 0;
  try {
    for await (const chunk of await deps.blobs.read(key)) {
      h.update(chunk);
      size += chunk.length;
    }
  } catch (err) {
    if (isStudioError(err, 'E_NOT_FOUND')) return 'missing'; // deleted between stat and read
    throw err;
  }
  if (h.digest('hex') !== t.sha256) {
    await deps.blobs.delete(key);
    return 'corrupt';
  }
  try {
    await deps.meta.putBlobs(t.team, [{ sha256: t.sha256, size, verified: true }]);
  } catch (err) {
    if (isStudioError(err, 'E_CONFLICT')) return 'missing'; // a GC run is deleting it
    throw err;
  }
  return 'verified';
}
