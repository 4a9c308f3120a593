import { createHmac, timingSafeEqual } from 'node:crypto';
import { StudioError } from '../../contract/errors.ts';

/**
 * HMAC-SHA256 signatures for the local host's storage URLs. The signed string binds method, path, expiry and every
 * constraint parameter, so a URL can be used for one object, one method, one size and one hash only.
 */
export interface SignedParams {
  method: 'PUT' | 'GET';
  path: string;
  expires: number;
  /** Constraint parameters (size, sha256, pack digest…), all signed. */
  bound: Record<string, string>;
}

function canonical(p: SignedParams): string {
  const keys = Object.keys(p.bound).sort();
  return ['SL1', p.method, p.path, String(p.expires), ...keys.map((k) => `${k}=${p.bound[k]}`)].join('\n');
}

export function sign(secret: Buffer, p: SignedParams): string {
  return createHmac('sha256', secret).update(canonical(p)).digest('base64url');
}

/** Builds the query string of a signed URL. */
export function signedQuery(secret: Buffer, p: SignedParams): string {
  const qs = new URLSearchParams({ ...p.bound, m: p.method, exp: String(p.expires) });
  qs.set('sig', sign(secret, p));
  return qs.toString();
}

/**
 * Checks a request against its signature. Throws E_BAD_SIGNATURE (tampered, other object, other method) or
 * E_URL_EXPIRED. Returns the bound parameters.
 */
export function verifySigned(
  secret: Buffer,
  method: string,
  path: string,
  query: URLSearchParams,
  boundNames: readonly string[],
  nowSeconds: number,
): Record<string, string> {
  const sig = query.get('sig');
  const exp = Number(query.get('exp'));
  const m = query.get('m');
  if (!sig || !Number.isSafeInteger(exp) || (m !== 'PUT' && m !== 'GET')) {
    throw new StudioError('E_BAD_SIGNATURE', 'storage URL is not signed');
  }
  const bound: Record<string, string> = {};
  for (const name of boundNames) {
    const v = query.get(name);
    if (v === null) throw new StudioError('E_BAD_SIGNATURE', `storage URL lacks ${name}`);
    bound[name] = v;
  }
  const expected = Buffer.from(sign(secret, { method: m, path, expires: exp, bound }));
  const given = Buffer.from(sig);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw new StudioError('E_BAD_SIGNATURE', 'storage URL signature does not match this object');
  }
  if (m !== method) throw new StudioError('E_BAD_SIGNATURE', `storage URL was signed for ${m}, not ${method}`);
  if (nowSeconds > exp) throw new StudioError('E_URL_EXPIRED', 'storage URL has expired');
  return bound;
}
