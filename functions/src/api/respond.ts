import { isStudioError } from '../contract/errors.ts';
import { noSpace } from '../contract/no-space.ts';
import type { ErrorBody } from '../contract/wire.ts';
import { HTTP_STATUS } from './error-table.ts';

export function json(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

/** Turns any thrown value into an ErrorBody response; unknown errors become E_INTERNAL without internals. */
export function errorResponse(thrown: unknown, log?: (msg: string, err: unknown) => void): Response {
  // A full disk anywhere below the handler (SQLite, a blob write) is the caller's to know about, not an internal error.
  const err = noSpace(thrown, null, null);
  if (isStudioError(err)) {
    const body: ErrorBody = { error: { code: err.code, message: err.message } };
    if (err.details) body.error.details = err.details;
    return json(HTTP_STATUS[err.code], body);
  }
  log?.('unhandled error', err);
  const body: ErrorBody = { error: { code: 'E_INTERNAL', message: 'internal error' } };
  return json(500, body);
}
