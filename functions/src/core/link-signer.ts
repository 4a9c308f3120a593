import { createHmac, timingSafeEqual } from 'node:crypto';
import { StudioError } from '../contract/errors.ts';

/**
 * Short-lived bearer links (a version's tar.gz): the payload travels in the URL, signed with the backend's link key
 * (HMAC-SHA256), so the link works in curl without any other credential until `exp` and never after.
 */
export interface LinkPayload {
  /** What the link is for; a link of one kind is refused by the route of another. */
  kind: string;
  team: string;
  /** Unix seconds. */
  exp: number;
  [field: string]: string | number;
}

function mac(key: Uint8Array, body: string): string {
  return createHmac('sha256', key).update(`studio-lite link v1\n${body}`).digest('base64url');
}

export function signLink(key: Uint8Array, payload: LinkPayload): string {
  const body = Buffer.from(JSON.stringify(payload)).toString('base64url');
  return `${body}.${mac(key, body)}`;
}

/** Checks signature, kind and expiry. Throws E_BAD_SIGNATURE or E_URL_EXPIRED. */
export function verifyLink(key: Uint8Array, token: string, kind: string, nowMs: number): LinkPayload {
  const [body, sig, extra] = token.split('.');
  if (!body || !sig || extra !== undefined) throw new StudioError('E_BAD_SIGNATURE', 'link is not signed');
  const want = Buffer.from(mac(key, body));
  const got = Buffer.from(sig);
  if (want.length !== got.length || !timingSafeEqual(want, got)) {
    throw new StudioError('E_BAD_SIGNATURE', 'link signature does not match');
  }
  const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as LinkPayload;
  if (payload.kind !== kind) throw new StudioError('E_BAD_SIGNATURE', `not a ${kind} link`);
  if (!(payload.exp * 1000 > nowMs)) throw new StudioError('E_URL_EXPIRED', 'this link has expired; get a new one');
  return payload;
}

/** A link key derived from another secret (the local store's HMAC key), so the two signatures never collide. */
export function deriveLinkKey(secret: Uint8Array): Uint8Array {
  return createHmac('sha256', secret).update('studio-lite link key').digest();
}
