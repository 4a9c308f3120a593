import { createHash, createVerify } from 'node:crypto';
import { CRC32C } from '@google-cloud/storage';

/**
 * Google's V4 signing algorithm, checked from the receiving side (what storage.googleapis.com does with a signed URL):
 * https://cloud.google.com/storage/docs/access-control/signing-urls-manually and …/authentication/canonical-requests.
 * The emulator ignores signatures, so this is what makes signed-URL tests mean something offline.
 */

export interface V4Request {
  method: string;
  url: string;
  /** Request headers as received (any case; arrays are joined with ','). */
  headers: Record<string, string | string[] | undefined>;
  /** When given, length range and content hashes are checked against these bytes. */
  body?: Uint8Array;
}

/** GCS XML error codes, so a gateway can answer like GCS does. */
export type V4FailureCode =
  | 'MalformedSecurityHeader'
  | 'SignatureDoesNotMatch'
  | 'ExpiredToken'
  | 'RequestNotYetValid'
  | 'EntityTooSmall'
  | 'EntityTooLarge'
  | 'BadDigest';

export type V4Result =
  | {
      ok: true;
      bucket: string;
      object: string;
      clientEmail: string;
      /** Signed header values as sent (lower-case names). */
      signedHeaders: Record<string, string>;
      expiresAt: Date;
    }
  | V4Failure;

export interface V4Failure {
  ok: false;
  code: V4FailureCode;
  reason: string;
}

const ALGORITHM = 'GOOG4-RSA-SHA256';
/** Clock skew GCS tolerates for a URL dated in the future. */
const MAX_SKEW_MS = 15 * 60 * 1000;
const MAX_EXPIRES_S = 604800;

const fail = (code: V4FailureCode, reason: string): V4Failure => ({ ok: false, code, reason });

/** RFC 3986 encoding as the canonical query string requires (encodeURIComponent leaves !'()* alone). */
function encodeStrict(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

function parseQuery(search: string): [string, string][] {
  return search
    .replace(/^\?/, '')
    .split('&')
    .filter((p) => p !== '')
    .map((p) => {
      const i = p.indexOf('=');
      const k = i < 0 ? p : p.slice(0, i);
      const v = i < 0 ? '' : p.slice(i + 1);
      return [decodeURIComponent(k), decodeURIComponent(v)];
    });
}

function headerValue(headers: V4Request['headers'], name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v.join(',') : v;
  }
  return undefined;
}

/** Canonical header value: trimmed, inner runs of whitespace folded to one space. */
function canonicalValue(name: string, value: string): string {
  let v = value.trim().replace(/\s{2,}/g, ' ');
  // GCS is reached on the default port, so its Host header has none; the client library signs the bare hostname.
  // A local gateway listens on an ephemeral port, so compare hostnames.
  if (name === 'host') v = v.replace(/:\d+$/, '');
  return v;
}

/** Parses `YYYYMMDDTHHMMSSZ`. */
function parseGoogDate(s: string): Date | null {
  const m = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/.exec(s);
  if (!m) return null;
  const [, y, mo, d, h, mi, se] = m.map(Number) as number[];
  return new Date(Date.UTC(y as number, (mo as number) - 1, d, h, mi, se));
}

/** Checks the bytes against what the signed (or, as GCS also honours them, unsigned) integrity headers demand. */
export function checkBody(headers: V4Request['headers'], body: Uint8Array): V4Failure | null {
  const range = headerValue(headers, 'x-goog-content-length-range');
  if (range !== undefined) {
    const m = /^\s*(\d+)\s*,\s*(\d+)\s*$/.exec(range);
    if (!m) return fail('MalformedSecurityHeader', `bad x-goog-content-length-range "${range}"`);
    if (body.length < Number(m[1])) return fail('EntityTooSmall', `body has ${body.length} bytes, range ${range}`);
    if (body.length > Number(m[2])) return fail('EntityTooLarge', `body has ${body.length} bytes, range ${range}`);
  }
  const md5 = createHash('md5').update(body).digest('base64');
  const contentMd5 = headerValue(headers, 'content-md5');
  if (contentMd5 !== undefined && contentMd5.trim() !== md5)
    return fail('BadDigest', 'content-md5 does not match body');
  const goog = headerValue(headers, 'x-goog-hash');
  if (goog !== undefined) {
    for (const part of goog.split(',')) {
      const i = part.indexOf('=');
      const alg = part.slice(0, i).trim().toLowerCase();
      const val = part.slice(i + 1).trim();
      if (alg === 'md5' && val !== md5) return fail('BadDigest', 'x-goog-hash md5 does not match body');
      if (alg === 'crc32c') {
        const crc = new CRC32C();
        crc.update(Buffer.from(body.buffer, body.byteOffset, body.byteLength));
        if (crc.toString() !== val) return fail('BadDigest', 'x-goog-hash crc32c does not match body');
      }
      if (alg !== 'md5' && alg !== 'crc32c') return fail('MalformedSecurityHeader', `unknown x-goog-hash "${alg}"`);
    }
  }
  return null;
}

/**
 * Verifies a request made with a V4 signed URL (path style, `https://host/<bucket>/<object>`): algorithm, credential
 * scope, date and expiry, every signed header against the value actually sent, the RSA-SHA256 signature over the
 * canonical request rebuilt from the request as received, and (with `body`) length range and content hashes.
 */
export function verifyV4(req: V4Request, publicKeyPem: string, now: Date = new Date()): V4Result {
  let url: URL;
  try {
    url = new URL(req.url);
  } catch {
    return fail('MalformedSecurityHeader', 'unparseable URL');
  }
  let query: [string, string][];
  try {
    query = parseQuery(url.search);
  } catch {
    return fail('MalformedSecurityHeader', 'malformed query string');
  }
  // GCS matches its own parameter names case-insensitively (Google's vectors sign with `x-goog-signature`).
  const q = (name: string) => {
    const hits = query.filter(([k]) => k.toLowerCase() === name.toLowerCase());
    return hits.length === 1 ? (hits[0] as [string, string])[1] : undefined;
  };
  const algorithm = q('X-Goog-Algorithm');
  const credential = q('X-Goog-Credential');
  const dateStr = q('X-Goog-Date');
  const expiresStr = q('X-Goog-Expires');
  const signedList = q('X-Goog-SignedHeaders');
  const signature = q('X-Goog-Signature');
  if (!algorithm || !credential || !dateStr || !expiresStr || !signedList || !signature) {
    return fail('MalformedSecurityHeader', 'missing or repeated X-Goog-* query parameter');
  }
  if (algorithm !== ALGORITHM) return fail('MalformedSecurityHeader', `unsupported algorithm ${algorithm}`);
  if (!/^([0-9a-fA-F]{2})+$/.test(signature)) return fail('MalformedSecurityHeader', 'signature is not hex');

  // Credential: <client_email>/<YYYYMMDD>/<location>/storage/goog4_request
  const parts = credential.split('/');
  if (parts.length !== 5 || parts[3] !== 'storage' || parts[4] !== 'goog4_request') {
    return fail('MalformedSecurityHeader', `bad credential scope "${credential}"`);
  }
  const [clientEmail, scopeDate] = parts as [string, string];
  const scope = parts.slice(1).join('/');
  const date = parseGoogDate(dateStr);
  if (!date) return fail('MalformedSecurityHeader', `bad X-Goog-Date "${dateStr}"`);
  if (dateStr.slice(0, 8) !== scopeDate)
    return fail('MalformedSecurityHeader', 'credential date differs from X-Goog-Date');
  if (!/^\d+$/.test(expiresStr)) return fail('MalformedSecurityHeader', `bad X-Goog-Expires "${expiresStr}"`);
  const expires = Number(expiresStr);
  if (expires < 1 || expires > MAX_EXPIRES_S) return fail('MalformedSecurityHeader', 'X-Goog-Expires out of range');
  const expiresAt = new Date(date.getTime() + expires * 1000);
  if (now.getTime() >= expiresAt.getTime()) return fail('ExpiredToken', `URL expired at ${expiresAt.toISOString()}`);
  if (date.getTime() - now.getTime() > MAX_SKEW_MS) return fail('RequestNotYetValid', 'X-Goog-Date is in the future');

  // Signed headers: lower-case, sorted, `host` always among them, each one present in the request.
  const names = signedList.split(';');
  const sorted = [...names].sort();
  if (
    names.some((n, i) => n !== n.toLowerCase() || n !== sorted[i] || n === '') ||
    new Set(names).size !== names.length
  ) {
    return fail('MalformedSecurityHeader', 'X-Goog-SignedHeaders is not a sorted lower-case list');
  }
  if (!names.includes('host')) return fail('MalformedSecurityHeader', 'host is not a signed header');
  const signedHeaders: Record<string, string> = {};
  for (const name of names) {
    const v = headerValue(req.headers, name);
    if (v === undefined) return fail('SignatureDoesNotMatch', `signed header ${name} was not sent`);
    signedHeaders[name] = canonicalValue(name, v);
  }
  const canonicalHeaders = names.map((n) => `${n}:${signedHeaders[n]}\n`).join('');
  const canonicalQuery = query
    .filter(([k]) => k.toLowerCase() !== 'x-goog-signature')
    .map(([k, v]) => [encodeStrict(k), encodeStrict(v)] as const)
    .sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0))
    .map(([k, v]) => `${k}=${v}`)
    .join('&');
  const payload = signedHeaders['x-goog-content-sha256'] ?? 'UNSIGNED-PAYLOAD';
  const canonicalRequest = [
    req.method.toUpperCase(),
    url.pathname,
    canonicalQuery,
    canonicalHeaders,
    names.join(';'),
    payload,
  ].join('\n');
  const stringToSign = [ALGORITHM, dateStr, scope, createHash('sha256').update(canonicalRequest).digest('hex')].join(
    '\n',
  );
  let valid = false;
  try {
    valid = createVerify('RSA-SHA256').update(stringToSign).verify(publicKeyPem, Buffer.from(signature, 'hex'));
  } catch {
    valid = false;
  }
  if (!valid) {
    return fail(
      'SignatureDoesNotMatch',
      `signature does not match the request (canonical request:\n${canonicalRequest})`,
    );
  }

  const m = /^\/([^/]+)\/(.+)$/.exec(url.pathname);
  if (!m) return fail('MalformedSecurityHeader', 'URL names no object');
  if (req.body !== undefined) {
    const bad = checkBody(req.headers, req.body);
    if (bad) return bad;
  }
  return {
    ok: true,
    bucket: decodeURIComponent(m[1] as string),
    object: decodeURIComponent(m[2] as string),
    clientEmail,
    signedHeaders,
    expiresAt,
  };
}
