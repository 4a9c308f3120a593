import { createHash, createPrivateKey, type KeyObject, sign } from 'node:crypto';

/**
 * Google's V4 signed URLs (GOOG4-RSA-SHA256), made locally with a service-account key:
 * https://cloud.google.com/storage/docs/access-control/signing-urls-manually and
 * https://cloud.google.com/storage/docs/authentication/canonical-requests.
 *
 * Same URLs as @google-cloud/storage `getSignedUrl({ version: 'v4' })` (path style), but the private key is parsed
 * once into a KeyObject instead of once per URL, which makes signing several times faster.
 */

export interface V4SigningKey {
  client_email: string;
  private_key: string;
}

export interface V4UrlRequest {
  /** HTTP method the URL is for (GET, PUT, POST, DELETE, …). */
  method: string;
  bucket: string;
  /** Object name, unencoded (`/` separates path segments and is kept). */
  object: string;
  /** Headers signed besides `host` (any case): the request must send exactly these values. */
  headers?: Record<string, string>;
  /** Extra query parameters, signed too (e.g. `response-content-disposition`). */
  query?: Record<string, string>;
  /** When the URL becomes valid (`X-Goog-Date`); sub-second parts are dropped. */
  signedAt: Date;
  /** Lifetime in whole seconds (`X-Goog-Expires`), 1 to 604800. */
  expiresInSeconds: number;
}

export interface V4UrlSigner {
  readonly clientEmail: string;
  /** A signed URL `<origin>/<bucket>/<object>?X-Goog-…`: canonical (sorted) query, `X-Goog-Signature` last. */
  signUrl(req: V4UrlRequest): string;
}

const ALGORITHM = 'GOOG4-RSA-SHA256';
const MAX_EXPIRES_S = 7 * 24 * 3600;
const RESERVED_QUERY = new Set(
  [
    'X-Goog-Algorithm',
    'X-Goog-Credential',
    'X-Goog-Date',
    'X-Goog-Expires',
    'X-Goog-SignedHeaders',
    'X-Goog-Signature',
  ].map((k) => k.toLowerCase()),
);
const HEADER_NAME_RE = /^[^\s:;]+$/;

/** RFC 3986: everything but `A-Z a-z 0-9 - . _ ~` is percent-encoded (UTF-8), `/` included. */
export function encodeRfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/** Canonical URI of a path-style object URL: each segment encoded, the `/` between them kept. */
export function canonicalPath(bucket: string, object: string): string {
  return `/${encodeRfc3986(bucket)}/${object.split('/').map(encodeRfc3986).join('/')}`;
}

/** `YYYYMMDDTHHMMSSZ`. */
function googDate(d: Date): string {
  const iso = d.toISOString(); // 2019-02-01T09:00:00.000Z
  return `${iso.slice(0, 4)}${iso.slice(5, 7)}${iso.slice(8, 10)}T${iso.slice(11, 13)}${iso.slice(14, 16)}${iso.slice(17, 19)}Z`;
}

const byCodePoint = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

/**
 * Parses the private key once; every URL is then one SHA-256 of the canonical request and one RSA signature.
 * `base` is where URLs point (scheme, host and port; any path is ignored), default https://storage.googleapis.com.
 * Throws if the key is not an RSA private key.
 */
export function createV4UrlSigner(key: V4SigningKey, base = 'https://storage.googleapis.com'): V4UrlSigner {
  if (!key.client_email || /[/\s]/.test(key.client_email)) throw new Error('v4 signer: bad client_email');
  const privateKey: KeyObject = createPrivateKey(key.private_key);
  if (privateKey.asymmetricKeyType !== 'rsa') throw new Error('v4 signer: the private key is not an RSA key');
  const u = new URL(base);
  const origin = u.origin;
  // As the Node client does: the bare hostname (GCS is reached on its default port).
  const host = u.hostname;
  const clientEmail = key.client_email;

  return {
    clientEmail,
    signUrl(req) {
      const exp = req.expiresInSeconds;
      if (!Number.isInteger(exp) || exp < 1 || exp > MAX_EXPIRES_S) {
        throw new Error(`v4 signer: expiry must be 1 to ${MAX_EXPIRES_S} whole seconds, got ${exp}`);
      }
      const t = req.signedAt.getTime();
      if (!Number.isFinite(t)) throw new Error('v4 signer: invalid signedAt');

      // Canonical headers: names lower-cased, values trimmed with inner whitespace runs folded; sorted by name.
      const headers = new Map<string, string>([['host', host]]);
      for (const [name, value] of Object.entries(req.headers ?? {})) {
        const n = name.toLowerCase();
        if (!HEADER_NAME_RE.test(n)) throw new Error(`v4 signer: bad header name "${name}"`);
        if (headers.has(n)) throw new Error(`v4 signer: header "${n}" given twice (or host, which comes from base)`);
        if (/[\r\n]/.test(value)) throw new Error(`v4 signer: header "${n}" has a line break`);
        headers.set(n, value.trim().replace(/\s{2,}/g, ' '));
      }
      const names = [...headers.keys()].sort(byCodePoint);
      const signedHeaders = names.join(';');
      const canonicalHeaders = names.map((n) => `${n}:${headers.get(n)}\n`).join('');
      const payload = headers.get('x-goog-content-sha256');
      if (payload !== undefined && !/^[0-9A-Fa-f]+$/.test(payload)) {
        throw new Error('v4 signer: x-goog-content-sha256 must be hex');
      }

      const date = googDate(new Date(Math.floor(t / 1000) * 1000));
      const scope = `${date.slice(0, 8)}/auto/storage/goog4_request`;
      const params: [string, string][] = [
        ['X-Goog-Algorithm', ALGORITHM],
        ['X-Goog-Credential', `${clientEmail}/${scope}`],
        ['X-Goog-Date', date],
        ['X-Goog-Expires', String(exp)],
        ['X-Goog-SignedHeaders', signedHeaders],
      ];
      for (const [k, v] of Object.entries(req.query ?? {})) {
        if (RESERVED_QUERY.has(k.toLowerCase())) throw new Error(`v4 signer: query parameter ${k} is reserved`);
        params.push([k, v]);
      }
      const canonicalQuery = params
        .map(([k, v]) => [encodeRfc3986(k), encodeRfc3986(v)] as const)
        .sort((a, b) => byCodePoint(a[0], b[0]) || byCodePoint(a[1], b[1]))
        .map(([k, v]) => `${k}=${v}`)
        .join('&');
      const path = canonicalPath(req.bucket, req.object);

      const canonicalRequest = [
        req.method.toUpperCase(),
        path,
        canonicalQuery,
        canonicalHeaders,
        signedHeaders,
        payload ?? 'UNSIGNED-PAYLOAD',
      ].join('\n');
      const digest = createHash('sha256').update(canonicalRequest).digest('hex');
      const stringToSign = `${ALGORITHM}\n${date}\n${scope}\n${digest}`;
      const signature = sign('sha256', Buffer.from(stringToSign), privateKey).toString('hex');
      return `${origin}${path}?${canonicalQuery}&X-Goog-Signature=${signature}`;
    },
  };
}
