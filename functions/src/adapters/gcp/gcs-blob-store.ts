import type { File, Storage } from '@google-cloud/storage';
import { StudioError } from '../../contract/errors.ts';
import type { ResumableStartRequest, SignedRequest } from '../../contract/transfer.ts';
import type { BlobStore, StoredObject, UploadConstraint } from '../../core/ports.ts';
import { createV4UrlSigner, type V4UrlSigner } from './v4-signer.ts';

export interface GcsBlobStoreOptions {
  bucket: string;
  /** A configured client (tests, or a host that shares one); otherwise one is created on first use. */
  storage?: Storage;
  /**
   * Service-account key used to sign URLs locally (V4, the key parsed once: see v4-signer.ts); without it the client
   * signs through IAM signBlob (one call per URL).
   */
  credentials?: { client_email: string; private_key: string };
  /** JSON API endpoint, e.g. the storage emulator. */
  apiEndpoint?: string;
  /** Where signed URLs point (path style: `<base>/<bucket>/<key>`). Default https://storage.googleapis.com. */
  signedUrlBase?: string;
  /**
   * Sign `x-goog-if-generation-match: 0` into uploads (default true): a URL can create its object but never overwrite
   * it, so a still-valid URL cannot replace a blob after the backend verified it. A PUT that finds the object already
   * there gets 412, which a client should read as "already uploaded".
   */
  createOnly?: boolean;
}

/**
 * Extra hashes a caller may know besides sha256. GCS checks `x-goog-hash` (md5/crc32c) against the bytes it receives
 * and refuses a mismatch, so when given they are signed and the upload is content-checked by GCS itself.
 */
export interface GcsUploadConstraint extends UploadConstraint {
  /** base64 MD5 of the content. */
  md5?: string;
  /** base64 big-endian CRC32C of the content. */
  crc32c?: string;
}

/** The one content type signed uploads carry (blobs are opaque bytes). */
export const GCS_UPLOAD_CONTENT_TYPE = 'application/octet-stream';

/** GCS allows V4 signatures to live at most seven days. */
const MAX_EXPIRY_S = 7 * 24 * 3600;
const KEY_RE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;
const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);
const UNAVAILABLE_STATUSES = new Set([408, 429, 502, 503, 504]);

/** Walks an error and its causes for an HTTP status or a socket error code. */
function classify(err: unknown): 'not-found' | 'unavailable' | 'other' {
  const seen = new Set<unknown>();
  let e: unknown = err;
  while (e && typeof e === 'object' && !seen.has(e)) {
    seen.add(e);
    const o = e as { code?: unknown; status?: unknown; response?: { status?: unknown }; cause?: unknown };
    const status = typeof o.code === 'number' ? o.code : (o.response?.status ?? o.status);
    if (status === 404) return 'not-found';
    if (typeof status === 'number' && UNAVAILABLE_STATUSES.has(status)) return 'unavailable';
    if (typeof o.code === 'string' && NETWORK_CODES.has(o.code)) return 'unavailable';
    e = o.cause;
  }
  return 'other';
}

/** The one place SDK errors become coded errors (messages never carry SDK internals; the SDK error is the cause). */
function toStudioError(err: unknown, op: string, key: string): StudioError {
  if (err instanceof StudioError) return err;
  switch (classify(err)) {
    case 'not-found':
      return new StudioError('E_NOT_FOUND', `object ${key} not found`, { cause: err });
    case 'unavailable':
      return new StudioError('E_UNAVAILABLE', `cloud storage unreachable (${op} ${key})`, { cause: err });
    default:
      return new StudioError('E_INTERNAL', `cloud storage ${op} failed for ${key}`, { cause: err });
  }
}

function checkKey(key: string): void {
  if (!KEY_RE.test(key) || key.split('/').some((s) => s === '.' || s === '..')) {
    throw new StudioError('E_BAD_PATH', `invalid storage key "${key}"`);
  }
}

/**
 * Whole seconds, as V4 signs them; refuses expiries GCS would refuse (past, zero-length, beyond seven days).
 * `now` is the signing time in whole seconds (X-Goog-Date).
 */
function expirySeconds(expiresAt: Date, now: number): number {
  const exp = Math.floor(expiresAt.getTime() / 1000);
  if (!(exp - now >= 1 && exp - now <= MAX_EXPIRY_S)) {
    throw new StudioError('E_BAD_REQUEST', 'a signed URL must expire between 1 s and 7 days from now');
  }
  return exp;
}

/** A signed POST that opens a resumable upload session (large blobs); same bindings as signUpload. */
export type { ResumableStartRequest };

export interface GcsBlobStore extends BlobStore {
  /**
   * Opens a resumable upload: the client POSTs this request, then PUTs chunks (multiples of 256 KiB, `Content-Range:
   * bytes a-b/total`) to the session URI; after an interruption an empty status PUT returns 308 with the persisted
   * Range and the client resumes there. The session URI is a bearer capability for this one object (valid a week).
   */
  signResumableUpload(key: string, c: GcsUploadConstraint): Promise<ResumableStartRequest>;
}

/**
 * BlobStore on one GCS bucket; the SDK is loaded on first use so the local backend never pulls it in.
 *
 * What a signed upload binds, and who checks it:
 * - GCS enforces (the signature covers them): method, bucket + object, expiry, `content-type`,
 *   `x-goog-content-length-range: n,n` (exact length, else 400), `x-goog-if-generation-match: 0` (createOnly) and,
 *   when the caller supplies md5/crc32c, `x-goog-hash` (GCS hashes what it receives and refuses a mismatch: BadDigest).
 * - GCS cannot check sha256, the only hash the client is asked for, so right-sized wrong bytes are stored. The backend
 *   must re-hash the object (read()) before it trusts it, and delete it on a mismatch: verifiesOnUpload = false.
 */
export function createGcsBlobStore(opts: GcsBlobStoreOptions): GcsBlobStore {
  if (!opts.bucket) throw new StudioError('E_INTERNAL', 'gcs blob store: option "bucket" is required');
  const host = opts.signedUrlBase ?? 'https://storage.googleapis.com';
  let client: Promise<Storage> | undefined;
  const storage = (): Promise<Storage> => {
    client ??= opts.storage
      ? Promise.resolve(opts.storage)
      : import('@google-cloud/storage').then(
          ({ Storage }) =>
            new Storage({
              ...(opts.credentials ? { credentials: opts.credentials } : {}),
              ...(opts.apiEndpoint ? { apiEndpoint: opts.apiEndpoint } : {}),
            }),
        );
    return client;
  };
  const fileOf = async (key: string): Promise<File> => {
    checkKey(key);
    return (await storage()).bucket(opts.bucket).file(key);
  };
  /** Runs one SDK call with the error mapping applied. */
  const call = async <T>(op: string, key: string, fn: (file: File) => Promise<T>): Promise<T> => {
    const file = await fileOf(key);
    try {
      return await fn(file);
    } catch (err) {
      throw toStudioError(err, op, key);
    }
  };
  let localSigner: V4UrlSigner | undefined;
  /** The local signer, created (and the key parsed) on first use; a key that cannot sign is E_INTERNAL. */
  const signerOf = (credentials: NonNullable<GcsBlobStoreOptions['credentials']>): V4UrlSigner => {
    try {
      localSigner ??= createV4UrlSigner(credentials, host);
      return localSigner;
    } catch (err) {
      throw new StudioError('E_INTERNAL', 'gcs blob store: the signing key cannot sign URLs', { cause: err });
    }
  };
  /** Signs like `getSignedUrl({ version: 'v4', action, host, contentType, extensionHeaders })`, locally given a key. */
  const sign = async (
    key: string,
    action: 'read' | 'write' | 'resumable',
    expiresAt: Date,
    contentType?: string,
    extensionHeaders?: Record<string, string>,
  ): Promise<{ url: string; expiresAt: string }> => {
    const now = Math.floor(Date.now() / 1000);
    const exp = expirySeconds(expiresAt, now);
    let url: string;
    if (opts.credentials) {
      checkKey(key);
      const headers: Record<string, string> = { ...extensionHeaders };
      if (contentType) headers['content-type'] = contentType;
      if (action === 'resumable') headers['x-goog-resumable'] = 'start';
      const method = action === 'read' ? 'GET' : action === 'write' ? 'PUT' : 'POST';
      try {
        url = signerOf(opts.credentials).signUrl({
          method,
          bucket: opts.bucket,
          object: key,
          headers,
          signedAt: new Date(now * 1000),
          expiresInSeconds: exp - now,
        });
      } catch (err) {
        throw toStudioError(err, 'sign', key);
      }
    } else {
      [url] = await call('sign', key, (f) =>
        f.getSignedUrl({
          version: 'v4',
          action,
          accessibleAt: now * 1000,
          expires: exp * 1000,
          host,
          contentType,
          extensionHeaders,
        }),
      );
    }
    return { url, expiresAt: new Date(exp * 1000).toISOString() };
  };

  const uploadHeaders = (c: GcsUploadConstraint): Record<string, string> => {
    const headers: Record<string, string> = { 'x-goog-content-length-range': `${c.size},${c.size}` };
    if (opts.createOnly !== false) headers['x-goog-if-generation-match'] = '0';
    const hashes = [c.crc32c && `crc32c=${c.crc32c}`, c.md5 && `md5=${c.md5}`].filter(Boolean);
    if (hashes.length > 0) headers['x-goog-hash'] = hashes.join(',');
    return headers;
  };
  const withContentType = (h: Record<string, string>) => ({ 'content-type': GCS_UPLOAD_CONTENT_TYPE, ...h });

  return {
    verifiesOnUpload: false,
    async stat(key) {
      try {
        const [md] = await call('stat', key, (f) => f.getMetadata());
        const created = new Date(String(md.timeCreated ?? md.updated ?? 0));
        return { size: Number(md.size ?? 0), createdAt: created.toISOString() };
      } catch (err) {
        if (err instanceof StudioError && err.code === 'E_NOT_FOUND') return null;
        throw err;
      }
    },
    async put(key, data, contentType) {
      await call('put', key, (f) =>
        f.save(Buffer.from(data.buffer, data.byteOffset, data.byteLength), { contentType, resumable: false }),
      );
    },
    async get(key) {
      const [buf] = await call('get', key, (f) => f.download());
      return buf;
    },
    async read(key, range) {
      // An empty range is no request at all (createReadStream's `end` is inclusive).
      if (range?.length === 0) return (async function* () {})();
      const bounds = range ? { start: range.offset, end: range.offset + range.length - 1, validation: false } : {};
      // Waits for the first chunk so a missing object fails here, not in the consumer's loop.
      const stream = await call('read', key, async (f) => f.createReadStream(bounds));
      const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
      let first: IteratorResult<Buffer>;
      try {
        first = await it.next();
      } catch (err) {
        stream.destroy();
        throw toStudioError(err, 'read', key);
      }
      return (async function* () {
        try {
          for (let r = first; !r.done; r = await it.next()) yield r.value;
        } catch (err) {
          throw toStudioError(err, 'read', key);
        } finally {
          stream.destroy();
        }
      })();
    },
    async delete(key) {
      await call('delete', key, (f) => f.delete({ ignoreNotFound: true }));
    },
    async promote(from, to) {
      const target = await fileOf(to);
      // Content-addressed: a target already there is kept. The create-only copy below closes the race with a
      // concurrent writer where the server enforces it (the emulator does not, hence the look first).
      if (!(await this.stat(from))) throw new StudioError('E_NOT_FOUND', `object ${from} not found`);
      if (await this.stat(to)) {
        await call('delete', from, (f) => f.delete({ ignoreNotFound: true }));
        return false;
      }
      let moved = true;
      try {
        // Create-only, like signed uploads: an existing blob is never replaced (412 = it is there already).
        await call('promote', from, (f) => f.copy(target, { preconditionOpts: { ifGenerationMatch: 0 } }));
      } catch (err) {
        const status = (err as StudioError).cause as { code?: number } | undefined;
        if (status?.code !== 412) throw err;
        moved = false;
      }
      await call('delete', from, (f) => f.delete({ ignoreNotFound: true }));
      return moved;
    },
    async list(prefix, q) {
      if (prefix) checkKey(prefix.replace(/\/$/, ''));
      const bucket = (await storage()).bucket(opts.bucket);
      const out: StoredObject[] = [];
      // startOffset (inclusive) skips ahead where the server supports it; keys are filtered again here, so a server
      // that ignores it only costs extra pages, never a wrong page.
      let pageToken: string | undefined;
      do {
        let files: File[];
        let next: { pageToken?: string } | null | undefined;
        try {
          [files, next] = (await bucket.getFiles({
            prefix,
            autoPaginate: false,
            maxResults: Math.min(1000, q.limit + 1),
            ...(q.after ? { startOffset: q.after } : {}),
            ...(pageToken ? { pageToken } : {}),
          })) as unknown as [File[], { pageToken?: string } | null];
        } catch (err) {
          throw toStudioError(err, 'list', prefix);
        }
        for (const f of files) {
          if (q.after !== undefined && f.name <= q.after) continue;
          out.push({
            key: f.name,
            size: Number(f.metadata.size ?? 0),
            createdAt: new Date(String(f.metadata.timeCreated ?? f.metadata.updated ?? 0)).toISOString(),
          });
        }
        pageToken = next?.pageToken;
      } while (pageToken && out.length < q.limit);
      out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      return out.slice(0, q.limit);
    },
    async signUpload(key, c: GcsUploadConstraint): Promise<SignedRequest> {
      const headers = uploadHeaders(c);
      const s = await sign(key, 'write', c.expiresAt, GCS_UPLOAD_CONTENT_TYPE, headers);
      return { method: 'PUT', url: s.url, headers: withContentType(headers), expiresAt: s.expiresAt };
    },
    async signPackUpload(key, _id, members, expiresAt) {
      // GCS cannot split a body or hash sha256: the PUT is bound to the pack's exact size and create-only, and the
      // backend hashes each member when the client registers the pack (core/packs.ts).
      const size = members.reduce((n, m) => n + m.size, 0);
      return this.signUpload(key, { size, sha256: '', expiresAt });
    },
    async signResumableUpload(key, c) {
      // Hashes belong on the final chunk, not on the POST that opens the session.
      const headers = uploadHeaders({ ...c, md5: undefined, crc32c: undefined });
      const s = await sign(key, 'resumable', c.expiresAt, GCS_UPLOAD_CONTENT_TYPE, headers);
      return {
        method: 'POST',
        url: s.url,
        headers: { ...withContentType(headers), 'x-goog-resumable': 'start' },
        expiresAt: s.expiresAt,
      };
    },
    async signDownload(key, expiresAt, range) {
      // A signed `range` header: GCS refuses the URL with any other (or no) Range, so it serves those bytes only.
      const headers: Record<string, string> = range
        ? { range: `bytes=${range.offset}-${range.offset + range.length - 1}` }
        : {};
      const s = await sign(key, 'read', expiresAt, undefined, range ? headers : undefined);
      return { method: 'GET', url: s.url, headers, expiresAt: s.expiresAt };
    },
  };
}
