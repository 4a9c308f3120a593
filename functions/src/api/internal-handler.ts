import { z } from 'zod';
import { StudioError } from '../contract/errors.ts';
import { SHA256_RE } from '../contract/names.ts';
import type { CoreDeps } from '../core/context.ts';
import { verifyBlob } from '../core/internal-tasks.ts';
import { checkLease, JOB_DEADLINE_ROUTE, jobDeadline, LEASE_CHECK_ROUTE } from '../core/jobs.ts';
import { VERIFY_BLOB_ROUTE } from '../core/task-queue.ts';
import type { OidcVerifier } from './internal-auth.ts';
import { errorResponse, json } from './respond.ts';
import { readCappedText } from './route-kit.ts';

/** Task bodies are small; anything bigger is not ours. */
const MAX_BODY_BYTES = 64 * 1024;

export const verifyBlobBody = z.strictObject({
  team: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  sha256: z.string().regex(SHA256_RE),
  size: z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER),
});

type TaskRoute = (deps: CoreDeps, body: unknown) => Promise<Record<string, unknown>>;

function parse<T extends z.ZodType>(schema: T, body: unknown): z.output<T> {
  const r = schema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new StudioError('E_BAD_REQUEST', `invalid body at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
  }
  return r.data;
}

const jobRef = {
  team: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/),
  id: z.string().min(1).max(128),
  /** The job's queuedAt: a task of an earlier job under the same key (deleted, then queued again) is stale. */
  queuedAt: z.string().max(64).optional(),
};
export const leaseCheckBody = z.strictObject({ ...jobRef, attempt: z.number().int().positive() });
export const jobDeadlineBody = z.strictObject({
  ...jobRef,
  kind: z.enum(['lifetime', 'max-duration']),
  attempt: z.number().int().positive().optional(),
});

const TASK_ROUTES: Record<string, TaskRoute> = {
  [VERIFY_BLOB_ROUTE]: async (deps, body) => ({ outcome: await verifyBlob(deps, parse(verifyBlobBody, body)) }),
  [LEASE_CHECK_ROUTE]: async (deps, body) => ({ outcome: await checkLease(deps, parse(leaseCheckBody, body)) }),
  [JOB_DEADLINE_ROUTE]: async (deps, body) => ({ outcome: await jobDeadline(deps, parse(jobDeadlineBody, body)) }),
};

/**
 * Runs one internal task in-process: what the HTTP route does after authentication. The local task queue's
 * `dispatch` calls this directly. Throws E_NOT_FOUND for an unknown route, E_BAD_REQUEST for an invalid body.
 */
export async function runInternalTask(deps: CoreDeps, route: string, body: unknown): Promise<Record<string, unknown>> {
  const run = Object.hasOwn(TASK_ROUTES, route) ? TASK_ROUTES[route] : undefined;
  if (!run) throw new StudioError('E_NOT_FOUND', `no internal task route ${route}`);
  return run(deps, body);
}

async function readJson(req: Request): Promise<unknown> {
  const text = await readCappedText(req, MAX_BODY_BYTES);
  try {
    return JSON.parse(text);
  } catch (cause) {
    throw new StudioError('E_BAD_JSON', 'request body is not valid JSON', { cause });
  }
}

export interface InternalHandlerOptions {
  log?: (msg: string, err: unknown) => void;
}

/**
 * The routes Cloud Tasks calls (`POST /internal/tasks/<kind>`), on web-standard Request/Response. Every request must
 * carry the task service account's OIDC token; errors use the public API's error bodies. A 2xx tells Cloud Tasks the
 * task is done, anything else makes it retry.
 */
export function createInternalHandler(
  deps: CoreDeps,
  verifier: OidcVerifier,
  opts: InternalHandlerOptions = {},
): (req: Request) => Promise<Response> {
  return async (req) => {
    try {
      // Authenticate before anything else is looked at, so an anonymous caller learns nothing about the routes.
      await verifier.verify(req.headers.get('authorization'));
      const { pathname } = new URL(req.url);
      if (!Object.hasOwn(TASK_ROUTES, pathname)) throw new StudioError('E_NOT_FOUND', `no route ${pathname}`);
      if (req.method !== 'POST') throw new StudioError('E_BAD_REQUEST', `method ${req.method} not allowed`);
      return json(200, await runInternalTask(deps, pathname, await readJson(req)));
    } catch (err) {
      return errorResponse(err, opts.log);
    }
  };
}
