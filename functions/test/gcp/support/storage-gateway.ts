import { createHash, randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { Storage } from '@google-cloud/storage';
import { type LinkOptions, type SimulatedLink, toLink } from './sim-link.ts';
import { checkBody, type V4FailureCode, verifyV4 } from './v4-verifier.ts';

/**
 * Plays storage.googleapis.com's signed-URL endpoint on 127.0.0.1 (the storage emulator ignores signatures and answers
 * a signed PUT with 501): verifies each request with verifyV4, enforces length range, md5/crc32c and
 * `x-goog-if-generation-match`, then writes through the emulator's JSON API or proxies a GET from it.
 *
 * A GET with a single `Range: bytes=a-b` (or `bytes=a-`) is answered 206 with exactly those bytes, as GCS does. The
 * firebase storage emulator (firebase-tools 14.27.0) honors a single range itself and its 206 is forwarded; should
 * an emulator answer such a request 200 with the whole object, the gateway cuts the range out of it and answers 206.
 *
 * With `link`, the gateway also plays the wide-area link between the client and GCS (sim-link.ts): one round trip per
 * request, request and response bodies paced at the link's bandwidth (shared per direction). Every request that
 * reaches the gateway is counted by method (`requests`), signed or not, refused or not.
 */
export interface StorageGatewayOptions {
  /** Storage emulator, e.g. http://127.0.0.1:9199. */
  emulatorHost: string;
  /** client_email -> PEM public key of the service accounts whose signatures are accepted. */
  keys: Record<string, string>;
  /** Clock for expiry checks (tests move it). */
  now?: () => Date;
  /** Largest body buffered for one PUT (default 64 MiB). */
  maxBodyBytes?: number;
  /** A simulated wide-area link in front of the gateway (options, or a link shared with another server). */
  link?: LinkOptions | SimulatedLink;
}

export interface StorageGateway {
  /** Base URL to hand to the adapter as `signedUrlBase`. */
  url: string;
  /** Counts of answered requests by status, for assertions. */
  readonly statuses: Map<number, number>;
  /** Requests received, by method (PUT, GET, POST, HEAD, …), counted on arrival. */
  readonly requests: Map<string, number>;
  /** Total of `requests`. */
  requestCount(): number;
  /** Zeroes `requests` and `statuses` (between measured phases). */
  resetCounts(): void;
  /** The simulated link, when there is one (its pacers count the bytes that crossed it). */
  readonly link: SimulatedLink | undefined;
  close(): Promise<void>;
}

const STATUS: Record<
  V4FailureCode | 'AccessDenied' | 'PreconditionFailed' | 'NoSuchKey' | 'NoSuchUpload' | 'NotImplemented',
  number
> = {
  MalformedSecurityHeader: 400,
  SignatureDoesNotMatch: 403,
  ExpiredToken: 400,
  RequestNotYetValid: 403,
  EntityTooSmall: 400,
  EntityTooLarge: 400,
  BadDigest: 400,
  AccessDenied: 403,
  PreconditionFailed: 412,
  NoSuchKey: 404,
  NoSuchUpload: 404,
  NotImplemented: 501,
};
type ErrorCode = keyof typeof STATUS;

const xmlEscape = (s: string) =>
  s.replace(/[<>&'"]/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', "'": '&apos;', '"': '&quot;' })[c] as string);

function sendError(res: ServerResponse, code: ErrorCode, details: string): void {
  const body = `<?xml version='1.0' encoding='UTF-8'?><Error><Code>${code}</Code><Message>${code === 'SignatureDoesNotMatch' ? 'Access denied.' : code}</Message><Details>${xmlEscape(details)}</Details></Error>`;
  res.writeHead(STATUS[code], {
    'content-type': 'application/xml; charset=UTF-8',
    'content-length': Buffer.byteLength(body),
  });
  res.end(body);
}

/** Reads at most `limit` bytes; the rest is drained (so the client sees our answer, not a reset) and reported. */
async function readBodyFrom(req: AsyncIterable<Buffer>, limit: number): Promise<{ body: Buffer; overflow: boolean }> {
  const chunks: Buffer[] = [];
  let n = 0;
  let overflow = false;
  for await (const chunk of req) {
    if (overflow) continue;
    n += chunk.length;
    if (n > limit) overflow = true;
    else chunks.push(chunk);
  }
  return { body: Buffer.concat(chunks), overflow };
}

/** `bytes=a-b` or `bytes=a-` (one range, as the client sends for a pack); null for anything else. */
export function parseRange(h: string | undefined, size: number): { start: number; end: number } | null {
  const m = /^bytes=(\d+)-(\d*)$/.exec(h?.trim() ?? '');
  if (!m) return null;
  const start = Number(m[1]);
  const end = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  return start <= end ? { start, end } : null;
}

/** An open resumable upload (GCS keeps these for a week; here they live as long as the gateway). */
interface Session {
  bucket: string;
  object: string;
  contentType: string;
  range: [number, number] | null;
  ifGenerationMatch: string | undefined;
  chunks: Buffer[];
  received: number;
}

/** Parses `bytes a-b/total`, `bytes a-b/*`, `bytes *\/total`. */
function parseContentRange(h: string | undefined): { start?: number; end?: number; total?: number } | null {
  if (h === undefined) return {};
  const m = /^bytes (?:(\d+)-(\d+)|\*)\/(\d+|\*)$/.exec(h.trim());
  if (!m) return null;
  return {
    ...(m[1] === undefined ? {} : { start: Number(m[1]), end: Number(m[2]) }),
    ...(m[3] === '*' ? {} : { total: Number(m[3]) }),
  };
}

/** Starts the gateway on an ephemeral 127.0.0.1 port. */
export async function startStorageGateway(opts: StorageGatewayOptions): Promise<StorageGateway> {
  const storage = new Storage({ apiEndpoint: opts.emulatorHost, projectId: 'demo-studio-lite' });
  const now = opts.now ?? (() => new Date());
  const maxBody = opts.maxBodyBytes ?? 64 << 20;
  const statuses = new Map<number, number>();
  const requests = new Map<string, number>();
  const sessions = new Map<string, Session>();
  const link = toLink(opts.link);
  /** A request's body as it arrives (over the simulated link when there is one). */
  const bodyOf = (req: IncomingMessage): AsyncIterable<Buffer> =>
    link ? link.receive(req) : (req as AsyncIterable<Buffer>);
  const readBody = (req: IncomingMessage, limit: number) => readBodyFrom(bodyOf(req), limit);
  const drain = (req: IncomingMessage) => readBody(req, 0).then(() => undefined);

  /** Writes through the emulator, applying the precondition it ignores (racy; fine for tests). */
  const store = async (
    res: ServerResponse,
    bucket: string,
    object: string,
    body: Buffer,
    contentType: string | undefined,
    ifGenerationMatch: string | string[] | undefined,
  ) => {
    const file = storage.bucket(bucket).file(object);
    if (ifGenerationMatch !== undefined) {
      const [exists] = await file.exists();
      const generation = exists ? String((await file.getMetadata())[0].generation) : '0';
      if (generation !== ifGenerationMatch) {
        return sendError(res, 'PreconditionFailed', `generation is ${generation}, not ${ifGenerationMatch}`);
      }
    }
    // A media upload (one request, the body as is): the emulator parses a multipart upload (file.save) at half the
    // speed, ~9 MB/s here, which would bill large PUTs for the emulator rather than for the link.
    const up = await fetch(
      `${opts.emulatorHost}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=media&name=${encodeURIComponent(object)}`,
      {
        method: 'POST',
        headers: { 'content-type': contentType ?? 'application/octet-stream' },
        body: new Uint8Array(body.buffer as ArrayBuffer, body.byteOffset, body.byteLength),
      },
    );
    if (!up.ok) throw new Error(`storage emulator upload: ${up.status} ${await up.text()}`);
    const md = (await up.json()) as { generation?: string };
    res.writeHead(200, {
      etag: `"${createHash('md5').update(body).digest('hex')}"`,
      'x-goog-generation': String(md.generation),
      'content-length': 0,
    });
    res.end();
  };

  /** One PUT to a resumable session URI: a chunk, or (empty, `bytes *\/total`) a status query. */
  const chunk = async (req: IncomingMessage, res: ServerResponse, id: string) => {
    const s = sessions.get(id);
    if (req.method !== 'PUT' || !s) {
      await drain(req);
      return sendError(res, 'NoSuchUpload', 'no such resumable upload session');
    }
    const cr = parseContentRange(req.headers['content-range']);
    if (!cr) {
      await drain(req);
      return sendError(res, 'MalformedSecurityHeader', `bad content-range "${req.headers['content-range']}"`);
    }
    const max = s.range ? s.range[1] : maxBody;
    const { body, overflow } = await readBody(req, max + 1);
    if (cr.start !== undefined) {
      if (overflow || cr.end === undefined || cr.end - cr.start + 1 !== body.length || cr.start > s.received) {
        return sendError(res, 'MalformedSecurityHeader', `chunk ${req.headers['content-range']} does not fit`);
      }
      // Bytes GCS already has are skipped, as GCS does when a client re-sends an overlapping chunk.
      const fresh = body.subarray(Math.min(body.length, s.received - cr.start));
      s.chunks.push(fresh);
      s.received += fresh.length;
    }
    const total = cr.total;
    if (s.received > max || (total !== undefined && s.received > total)) {
      sessions.delete(id);
      return sendError(res, 'EntityTooLarge', `upload exceeds ${max} bytes`);
    }
    if (total === undefined || s.received < total) {
      res.writeHead(308, { ...(s.received > 0 ? { range: `bytes=0-${s.received - 1}` } : {}), 'content-length': 0 });
      return res.end();
    }
    sessions.delete(id);
    const data = Buffer.concat(s.chunks);
    const bad = checkBody({ ...req.headers, 'x-goog-content-length-range': s.range?.join(',') }, data);
    if (bad) return sendError(res, bad.code, bad.reason);
    return store(res, s.bucket, s.object, data, s.contentType, s.ifGenerationMatch);
  };

  /** Sends a response body (over the simulated link when there is one). */
  const send = (res: ServerResponse, body: Buffer) => {
    if (!link) return void res.end(body);
    const paced = link.sendStream();
    paced.pipe(res);
    paced.end(body);
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    if (link) await link.roundTrip(req);
    const method = req.method ?? 'GET';
    const url = `http://${req.headers.host ?? '127.0.0.1'}${req.url ?? '/'}`;
    const uploadId = new URL(url).searchParams.get('upload_id');
    if (uploadId !== null) return chunk(req, res, uploadId);
    const credential = new URL(url).searchParams.get('X-Goog-Credential') ?? '';
    const pem = opts.keys[credential.split('/')[0] ?? ''];
    const refuse = async (code: ErrorCode, details: string) => {
      await drain(req);
      sendError(res, code, details);
    };
    if (!pem) return refuse('AccessDenied', 'unknown or missing service account in X-Goog-Credential');

    const v = verifyV4({ method, url, headers: req.headers }, pem, now());
    if (!v.ok) return refuse(v.code, v.reason);

    if (method === 'PUT') {
      const range = /^(\d+),(\d+)$/.exec(v.signedHeaders['x-goog-content-length-range'] ?? '');
      const limit = Math.min(range ? Number(range[2]) : maxBody, maxBody);
      const declared = Number(req.headers['content-length'] ?? Number.NaN);
      if (declared > limit) return refuse('EntityTooLarge', `content-length ${declared} exceeds ${limit}`);
      const { body, overflow } = await readBody(req, limit);
      if (overflow) return sendError(res, 'EntityTooLarge', `body exceeds ${limit} bytes`);
      const checked = verifyV4({ method, url, headers: req.headers, body }, pem, now());
      if (!checked.ok) return sendError(res, checked.code, checked.reason);
      return store(
        res,
        v.bucket,
        v.object,
        body,
        req.headers['content-type'],
        req.headers['x-goog-if-generation-match'],
      );
    }

    if (method === 'POST') {
      if (v.signedHeaders['x-goog-resumable'] !== 'start') {
        return refuse('NotImplemented', 'signed POST is only for starting a resumable upload');
      }
      await drain(req);
      const range = /^(\d+),(\d+)$/.exec(v.signedHeaders['x-goog-content-length-range'] ?? '');
      const id = randomBytes(16).toString('hex');
      sessions.set(id, {
        bucket: v.bucket,
        object: v.object,
        contentType: req.headers['content-type'] ?? 'application/octet-stream',
        range: range ? [Number(range[1]), Number(range[2])] : null,
        ifGenerationMatch: req.headers['x-goog-if-generation-match'] as string | undefined,
        chunks: [],
        received: 0,
      });
      const location = `http://${req.headers.host}/${encodeURIComponent(v.bucket)}/${encodeURIComponent(v.object)}?upload_id=${id}`;
      res.writeHead(201, { location, 'content-length': 0 });
      return res.end();
    }

    if (method === 'GET' || method === 'HEAD') {
      await drain(req);
      const src = `${opts.emulatorHost}/download/storage/v1/b/${encodeURIComponent(v.bucket)}/o/${encodeURIComponent(v.object)}?alt=media`;
      const range = req.headers.range;
      const up = await fetch(src, { headers: range ? { range } : {} });
      if (up.status === 404) {
        await up.body?.cancel();
        return sendError(res, 'NoSuchKey', 'The specified key does not exist.');
      }
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'content-length', 'content-range', 'etag', 'x-goog-hash', 'x-goog-generation']) {
        const value = up.headers.get(h);
        if (value !== null) headers[h] = value;
      }
      if (range && up.status === 200 && method === 'GET') {
        // The emulator sent the whole object for a ranged GET: answer the range, as GCS does for a single range.
        const whole = Buffer.from(await up.arrayBuffer());
        const r = parseRange(range, whole.length);
        if (r) {
          const part = whole.subarray(r.start, r.end + 1);
          headers['content-range'] = `bytes ${r.start}-${r.end}/${whole.length}`;
          headers['content-length'] = String(part.length);
          delete headers['x-goog-hash']; // hashes of the whole object
          res.writeHead(206, headers);
          return send(res, part);
        }
        res.writeHead(200, headers);
        return send(res, whole);
      }
      res.writeHead(up.status, headers);
      if (method === 'HEAD' || !up.body) {
        await up.body?.cancel();
        return res.end();
      }
      const body = Readable.fromWeb(up.body as import('node:stream/web').ReadableStream);
      if (link) body.pipe(link.sendStream()).pipe(res);
      else body.pipe(res);
      return;
    }
    return refuse('NotImplemented', `${method} is not supported by this gateway`);
  };

  const server = createServer((req, res) => {
    requests.set(req.method ?? 'GET', (requests.get(req.method ?? 'GET') ?? 0) + 1);
    res.on('finish', () => statuses.set(res.statusCode, (statuses.get(res.statusCode) ?? 0) + 1));
    handle(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy(err as Error);
      else {
        const body = `gateway error: ${String(err)}`;
        res.writeHead(500, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) }).end(body);
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    statuses,
    requests,
    requestCount: () => [...requests.values()].reduce((a, b) => a + b, 0),
    resetCounts() {
      requests.clear();
      statuses.clear();
    },
    link,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
