import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';

// Keep-alive pools shared by every upload of the process.
const httpAgent = new HttpAgent({ keepAlive: true, maxSockets: 16 });
const httpsAgent = new HttpsAgent({ keepAlive: true, maxSockets: 16 });

/** Statuses whose Response may not carry a body (the Response constructor refuses one). */
const NULL_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * PUT with a streamed body on node:http. fetch (undici) copies every body chunk into a web stream; for GiB-sized
 * blobs that cost more CPU than hashing them (measured: ~1.4 s per GiB on this machine).
 * Returns a fetch-like Response so callers keep one error path.
 */
export function putStream(
  url: string,
  headers: Record<string, string>,
  body: AsyncIterable<Uint8Array> | Uint8Array,
  signal: AbortSignal,
): Promise<Response> {
  return sendStream('PUT', url, headers, body, signal);
}

/**
 * One request with a streamed or in-memory body on the shared keep-alive agents (resumable sessions POST to open and
 * PUT chunks and status queries). The answer body is read whole: storage answers to uploads are small.
 */
export async function sendStream(
  method: 'PUT' | 'POST',
  url: string,
  headers: Record<string, string>,
  body: AsyncIterable<Uint8Array> | Uint8Array,
  signal: AbortSignal,
): Promise<Response> {
  const u = new URL(url);
  const isHttps = u.protocol === 'https:';
  const send = isHttps ? httpsRequest : httpRequest;
  return new Promise<Response>((resolve, reject) => {
    const req = send(u, { method, headers, agent: isHttps ? httpsAgent : httpAgent, signal }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('error', reject);
      res.on('end', () => {
        const h = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === 'string') h.set(k, v);
        const status = res.statusCode ?? 500;
        resolve(new Response(NULL_BODY.has(status) ? null : Buffer.concat(chunks), { status, headers: h }));
      });
    });
    req.on('error', reject);
    const src = body instanceof Uint8Array ? Readable.from([body]) : Readable.from(body, { objectMode: false });
    pipeline(src, req).catch(reject);
  });
}
