import { StudioError } from '../contract/errors.ts';
import type { CoreDeps } from '../core/context.ts';
import { isTaskKind, runTask } from '../core/task-kinds.ts';
import { errorResponse, json } from './respond.ts';
import { readCappedText } from './route-kit.ts';

/** Task bodies are small; anything bigger is not ours. */
const MAX_BODY_BYTES = 64 * 1024;

/**
 * Where Cloud Tasks delivers a task of kind K: `POST /internal/tasks/K` (the Cloud Tasks adapter,
 * adapters/gcp/cloud-tasks-queue.ts, builds the same URL: each side of the wire names it, tests pin both).
 */
const TASK_PATH_RE = /^\/internal\/tasks\/([a-z0-9-]{1,64})$/;

/**
 * Who may call the internal routes, injected by the host (on GCP: adapters/gcp/internal-auth.ts, Google OIDC tokens
 * of the task service account). Throws E_UNAUTHENTICATED, E_TOKEN_EXPIRED, E_FORBIDDEN or E_UNAVAILABLE.
 */
export interface InternalCaller {
  verify(authorization: string | null | undefined): Promise<unknown>;
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
 * The routes Cloud Tasks calls (`POST /internal/tasks/<kind>`), on web-standard Request/Response: the URL back into
 * a task kind, then core/task-kinds.ts runs it. Every request must pass `caller` first; errors use the public API's
 * error bodies. A 2xx tells Cloud Tasks the task is done, anything else makes it retry.
 */
export function createInternalHandler(
  deps: CoreDeps,
  caller: InternalCaller,
  opts: InternalHandlerOptions = {},
): (req: Request) => Promise<Response> {
  return async (req) => {
    try {
      // Authenticate before anything else is looked at, so an anonymous caller learns nothing about the routes.
      await caller.verify(req.headers.get('authorization'));
      const { pathname } = new URL(req.url);
      const kind = TASK_PATH_RE.exec(pathname)?.[1];
      if (!kind || !isTaskKind(kind)) throw new StudioError('E_NOT_FOUND', `no route ${pathname}`);
      if (req.method !== 'POST') throw new StudioError('E_BAD_REQUEST', `method ${req.method} not allowed`);
      return json(200, await runTask(deps, kind, await readJson(req)));
    } catch (err) {
      return errorResponse(err, opts.log);
    }
  };
}
