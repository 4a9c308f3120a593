import type { z } from 'zod';
import type { CoreDeps } from '../core/context.ts';
import { StudioError } from '../core/errors.ts';
import type { Principal } from '../core/model.ts';

/** Shared pieces of the route modules (handler.ts dispatches; each *-routes.ts file exports a Route[]). */
/** Largest JSON body accepted (a 100k-file manifest is ~15 MB). */
export const MAX_BODY_BYTES = 64 << 20;

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

export async function readBody<T extends z.ZodType>(req: Request, schema: T): Promise<z.output<T>> {
  const len = Number(req.headers.get('content-length') ?? 0);
  if (len > MAX_BODY_BYTES) throw new StudioError('E_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`);
  const text = await req.text();
  if (text.length > MAX_BODY_BYTES) throw new StudioError('E_TOO_LARGE', `request body over ${MAX_BODY_BYTES} bytes`);
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (cause) {
    throw new StudioError('E_BAD_JSON', 'request body is not valid JSON', { cause });
  }
  const r = schema.safeParse(data);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new StudioError('E_BAD_REQUEST', `invalid body at ${issue?.path.join('.') || '(root)'}: ${issue?.message}`);
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
