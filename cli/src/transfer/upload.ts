import {
  isStudioError,
  type PlannedPack,
  type PlanUploadResponse,
  type ResumableStartRequest,
  type SignedRequest,
  StudioError,
} from '@studio-lite/functions/contract';
import pLimit from 'p-limit';
import { assertUnchangedSize, type BodyPart, filesBody } from './file-body.ts';
import { putStream } from './http-put.ts';
import { uploadResumable } from './resumable.ts';
import { type RetryOptions, withRetry } from './retry.ts';
import { storageError } from './storage-error.ts';

export interface UploadOptions {
  /** Requests in flight; default 8. */
  concurrency?: number;
  /** Running total of bytes sent (goes back down when a failed attempt is retried). */
  onProgress?: (bytesDone: number) => void;
  signal?: AbortSignal;
  retry?: Omit<RetryOptions, 'signal'>;
  /** Bytes already in memory (kept by the snapshot), sent instead of reading the file again. */
  contents?: Map<string, Buffer>;
  /**
   * Folder remembering open resumable sessions (`$STUDIOML_HOME/uploads`), so an upload the plan offers as
   * resumable continues in a later process where an interrupted one stopped. Without it, sessions only resume
   * within this call.
   */
  sessionDir?: string;
  /**
   * Registers a pack once its body is stored (`POST …/packs`): its members are present for commits only after that.
   * Required when the plan has packs.
   */
  registerPack?: (pack: PlannedPack) => Promise<void>;
  /**
   * The embedded host's key for uploads that name a file instead of sending it (ApiClient.localSource): a large blob
   * read from disk is then copied by the kernel on the host's side (storage-routes.ts).
   */
  localSource?: string | null;
}

/** Blobs at least this large are sent by naming their file when the host takes that (below, they are in packs). */
const LOCAL_SOURCE_MIN = 1 << 20;

export interface UploadResult {
  uploadedBlobs: number;
  uploadedBytes: number;
}

interface Task {
  members: { sha256: string; size: number }[];
  request: SignedRequest;
  /** A large blob's session start (used instead of `request` when present). */
  resumable?: ResumableStartRequest | undefined;
  /** Set for a pack: registered after its PUT. */
  pack?: PlannedPack;
}

/**
 * Performs a plan's signed uploads in parallel with retries (network errors, 5xx, 429); an upload the plan offers
 * as `resumable` goes through a session in chunks (resumable.ts) instead of one PUT. Sources that changed
 * since hashing do not stop the others; they are reported together at the end as one E_HASH_MISMATCH whose
 * `details.sha256s` lists them, so the caller can snapshot again. Any other failure (a 4xx such as E_URL_EXPIRED
 * or E_FORBIDDEN) cancels the remaining uploads and is thrown with the storage's code.
 */
export async function uploadBlobs(
  plan: PlanUploadResponse,
  sources: Map<string, string>,
  opts: UploadOptions = {},
): Promise<UploadResult> {
  const tasks: Task[] = [
    ...plan.uploads.map((u) => ({
      members: [{ sha256: u.sha256, size: u.size }],
      request: u.request,
      resumable: u.resumable,
    })),
    ...plan.packs.map((pack) => ({ members: pack.members, request: pack.request, pack })),
  ];
  const register = opts.registerPack;
  if (plan.packs.length > 0 && !register) {
    throw new StudioError('E_INTERNAL', 'the upload plan has packs but nothing registers them');
  }
  const stop = new AbortController();
  const signal = opts.signal === undefined ? stop.signal : AbortSignal.any([opts.signal, stop.signal]);
  const limit = pLimit(Math.max(1, opts.concurrency ?? 8));
  const result: UploadResult = { uploadedBlobs: 0, uploadedBytes: 0 };
  const changed: StudioError[] = [];
  let fatal: unknown;
  let done = 0;
  const progress = (n: number): void => {
    done += n;
    opts.onProgress?.(done);
  };

  await Promise.all(
    tasks.map((task) =>
      limit(async () => {
        if (signal.aborted) return;
        try {
          const parts = task.members.map((m) => ({
            ...m,
            abs: sourceOf(sources, m.sha256),
            data: opts.contents?.get(m.sha256),
          }));
          const [only] = parts;
          if (task.resumable && only && parts.length === 1) {
            await uploadResumable(only, task.resumable, {
              sessionDir: opts.sessionDir,
              signal,
              retry: opts.retry,
              progress,
            });
          } else if (opts.localSource && only && parts.length === 1 && !only.data && only.size >= LOCAL_SOURCE_MIN) {
            const key = opts.localSource;
            await withRetry(() => sendSource(task.request, only, key, signal, progress), { ...opts.retry, signal });
          } else {
            await withRetry(() => sendOnce(task.request, parts, signal, progress), { ...opts.retry, signal });
            if (task.pack && register) await register(task.pack);
          }
          result.uploadedBlobs += parts.length;
          for (const p of parts) result.uploadedBytes += p.size;
        } catch (err) {
          if (isStudioError(err, 'E_HASH_MISMATCH') && Array.isArray(err.details?.paths)) {
            changed.push(err);
          } else if (fatal === undefined) {
            fatal = err;
            stop.abort(err);
          }
        }
      }),
    ),
  );
  if (opts.signal?.aborted) throw opts.signal.reason;
  if (fatal !== undefined) throw fatal;
  if (changed.length > 0) {
    const sha256s = changed.flatMap((e) => e.details?.sha256s as string[]);
    const paths = changed.flatMap((e) => e.details?.paths as string[]);
    throw new StudioError('E_HASH_MISMATCH', `${paths.length} file(s) changed since they were hashed; capture again`, {
      cause: changed[0],
      details: { sha256s, paths },
    });
  }
  return result;
}

async function sendOnce(
  req: SignedRequest,
  parts: BodyPart[],
  signal: AbortSignal,
  progress: (n: number) => void,
): Promise<void> {
  await assertUnchangedSize(parts);
  const total = parts.reduce((s, p) => s + p.size, 0);
  const headers = { ...req.headers };
  if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-length'))
    headers['content-length'] = String(total);
  let sent = 0;
  let bodyError: unknown;
  const body = (async function* () {
    try {
      yield* filesBody(parts, (n) => {
        sent += n;
        progress(n);
      });
    } catch (err) {
      bodyError = err;
      throw err;
    }
  })();
  let res: Response;
  try {
    res = await putStream(req.url, headers, total === 0 ? new Uint8Array(0) : body, signal);
  } catch (err) {
    progress(-sent);
    // fetch wraps a body failure in a generic TypeError; the file-changed error underneath is the useful one.
    throw bodyError ?? err;
  }
  // 412: a create-only URL (GCS `x-goog-if-generation-match: 0`) found the object already there; the backend
  // verifies its bytes before any version may use it.
  if (!res.ok && res.status !== 412) {
    progress(-sent);
    throw await storageError(res, `upload of ${parts.length === 1 ? parts[0]?.abs : `${parts.length} packed files`}`);
  }
  // Drain so the keep-alive connection goes back to the pool.
  await res.arrayBuffer().catch(() => undefined);
}

/** One upload that names the file (the embedded host copies it with the kernel and hashes the copy). */
async function sendSource(
  req: SignedRequest,
  part: BodyPart,
  key: string,
  signal: AbortSignal,
  progress: (n: number) => void,
): Promise<void> {
  await assertUnchangedSize([part]);
  const headers = {
    ...req.headers,
    'content-length': '0',
    'x-studio-source': encodeURIComponent(part.abs),
    'x-studio-source-key': key,
  };
  const res = await putStream(req.url, headers, new Uint8Array(0), signal);
  if (!res.ok && res.status !== 412) {
    const err = await storageError(res, `upload of ${part.abs}`);
    // Changed since it was hashed: reported like a body that changed on the way (the caller snapshots again).
    if (isStudioError(err, 'E_HASH_MISMATCH') || isStudioError(err, 'E_SIZE_MISMATCH')) {
      throw new StudioError('E_HASH_MISMATCH', `${part.abs} changed since it was hashed`, {
        cause: err,
        details: { sha256s: [part.sha256], paths: [part.abs] },
      });
    }
    throw err;
  }
  await res.arrayBuffer().catch(() => undefined);
  progress(part.size);
}

function sourceOf(sources: Map<string, string>, sha256: string): string {
  const abs = sources.get(sha256);
  if (abs === undefined)
    throw new StudioError('E_INTERNAL', `the upload plan names blob ${sha256} that this capture did not hash`);
  return abs;
}
