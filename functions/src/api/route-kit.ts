import type { z } from 'zod';
import { StudioError } from '../contract/errors.ts';
import type { Principal } from '../contract/model.ts';
import type { CoreDeps } from '../core/context.ts';

/** Shared pieces of the route modules (handler.ts dispatches; each *-routes.ts file exports a Route[]). */
/** Largest JSON body accepted: a commit's manifest (a 100k-file manifest is ~15 MB; Cloud Functions cap at 32 MiB). */
export const MAX_BODY_BYTES = 32 << 20;
/**
 * Bytes of request bodies one process holds at once, all requests together: past it a body is refused with
 * E_UNAVAILABLE (503, the client retries), so parallel large bodies cannot add up beyond a bound.
 */
export const BODY_BUDGET_BYTES = 160 << 20;
let buffered = 0;
/** Every other body (upload plans of 10,000 blobs are ~1.5 MB; warnings are capped at 1 MiB). */
export const DEFAULT_BODY_BYTES = 8 << 20;

export interface Ctx {
  deps: CoreDeps;
  /** Null only on routes with `auth: false`. */
  principal: Principal;
  /** The resolved team; '' on routes that are not about a team (`team: false`). */
  team: string;
  req: Request;
  url: URL;
  params: string[];
}

export type Route = {
  method: string;
  pattern: RegExp;
  run: (c: Ctx) => Promise<Response>;
  /** false: the route concerns only the caller (tokens), so no team is resolved and none is needed. */
  team?: false;
  /** false: no credential at all (public configuration such as /v1/auth/config); principal is null then. */
  auth?: false;
};

export const SEG = '([^/]+)';
export const EXP = `/v1/experiments/${SEG}`;
export const ART = `${EXP}/artifacts/${SEG}`;

/**
 * The body as text, read chunk by chunk with a hard cap: E_TOO_LARGE as soon as more than `max` bytes arrived
 * (declared or chunked), without reading the rest, so memory stays bounded whatever the client sends. The host closes
 * the connection after answering (the unread rest is never drained).
 */
export async function readCappedText(req: Request, max: number): Promise<string> {
  const tooLarge = () => new StudioError('E_TOO_LARGE', `request body over ${max} bytes`);
  if (Number(req.headers.get('content-length') ?? 0) > max) throw tooLarge();
  if (!req.body) return '';
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      buffered += value.byteLength;
      if (total > max) throw tooLarge();
      if (buffered > BODY_BUDGET_BYTES) {
        throw new StudioError('E_UNAVAILABLE', 'the server is receiving too many large requests at once; try again');
      }
      chunks.push(value);
    }
    return Buffer.concat(chunks, total).toString('utf8');
  } finally {
    buffered -= total;
    reader.releaseLock();
  }
}

/**
 * Parses and validates a JSON body. A list, or a text of 1024+ allowed characters, over its schema's maximum is
 * E_TOO_LARGE naming the field (per-field caps on records); any other mismatch is E_BAD_REQUEST.
 */
export async function readBody<T extends z.ZodType>(
  req: Request,
  schema: T,
  max = DEFAULT_BODY_BYTES,
): Promise<z.output<T>> {
  const text = await readCappedText(req, max);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new StudioError('E_BAD_JSON', 'request body is not valid JSON', { cause });
  }
  const r = schema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    const at = issue?.path.join('.') || '(root)';
    // Too many items, or text past a size limit (not a short name past its length rule, which is just invalid).
    const tooBig = issue?.code === 'too_big' && (issue.origin === 'array' || Number(issue.maximum) >= 1024);
    if (tooBig && issue.origin !== 'number' && issue.origin !== 'int' && issue.origin !== 'bigint') {
      throw new StudioError('E_TOO_LARGE', `${at} is too large: ${issue.message}`, { details: { field: at } });
    }
    throw new StudioError('E_BAD_REQUEST', `invalid body at ${at}: ${issue?.message}`);
  }
  return r.data;
}

export function versionParam(s: string): number | undefined {
  if (s === 'latest') return undefined;
  const n = Number(s);
  if (!Number.isSafeInteger(n) || n < 1) throw new StudioError('E_BAD_REQUEST', `invalid version "${s}"`);
  return n;
}

export const p = (c: Ctx, i: number) => c.params[i] as string;

export function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch (cause) {
    throw new StudioError('E_BAD_REQUEST', 'malformed percent-encoding in the path', { cause });
  }
}
