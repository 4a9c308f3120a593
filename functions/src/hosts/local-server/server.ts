import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createApiHandler } from '../../api/handler.ts';
import { errorResponse } from '../../api/respond.ts';
import { recordUploadedBlobs } from '../../core/blob-records.ts';
import { withWebApp } from '../../web-host/web-handler.ts';
import { sweepCrashLeftovers } from './crash-sweeps.ts';
import { type LocalBackend, openLocalBackend } from './local-backend.ts';
import { handleStorage } from './storage-routes.ts';

export interface LocalServer {
  url: string;
  backend: LocalBackend;
  close(): Promise<void>;
}

export interface LocalServerOptions {
  home: string;
  port?: number;
  host?: string;
  urlTtlSeconds?: number;
  /**
   * Where clients reach this host (signed URLs point there), e.g. `http://box.lan:8765` when bound to 0.0.0.0.
   * Default: the bound address.
   */
  publicUrl?: string;
  log?: (msg: string, err: unknown) => void;
  /**
   * A secret that lets the one process holding it upload a blob by naming a file of this machine instead of sending
   * its bytes (the CLI's embedded host in its own worker thread; storage-routes.ts). Unset: refused.
   */
  sourceKey?: string;
  /**
   * Apply the retention policies at start and daily, and deliver those runs (`studio-lite serve` only; not the CLI's
   * own host nor `ui`): local-backend.ts. Failed tasks are reported to `log`.
   */
  retentionSchedule?: boolean;
}

/** The local host: the v1 API handler plus the blob store's signed URLs, on node:http (127.0.0.1 by default). */
export async function startLocalServer(opts: LocalServerOptions): Promise<LocalServer> {
  let baseUrl = '';
  const publicBase = opts.publicUrl?.replace(/\/+$/, '');
  const backend = openLocalBackend(opts.home, {
    publicUrl: () => publicBase || baseUrl,
    urlTtlSeconds: opts.urlTtlSeconds,
    ...(opts.retentionSchedule ? { retentionSchedule: { log: opts.log } } : {}),
  });
  // The web app is served from the API's origin (same cookies, no CORS).
  const handler = withWebApp(createApiHandler(backend.deps, { log: opts.log, dataPath: opts.home }));
  // Verified uploads are recorded once per request (core/blob-records.ts), so commits need not stat the files again.
  const onStored = (blobs: { key: string; size: number; sha256: string }[]) => recordUploadedBlobs(backend.deps, blobs);

  const server: Server = createServer((req, res) => {
    void route(req, res).catch((err) => sendWeb(res, errorResponse(err, opts.log)).catch(() => res.destroy()));
  });
  server.keepAliveTimeout = 30_000;

  async function route(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', baseUrl);
    if (url.pathname.startsWith('/storage')) {
      try {
        await handleStorage(backend.blobs, req, res, url, onStored, opts.sourceKey);
      } catch (err) {
        req.resume(); // drain so the connection can be reused
        throw err;
      }
      return;
    }
    const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
    const request = new Request(url, {
      method: req.method,
      headers: req.headers as Record<string, string>,
      body: hasBody ? (Readable.toWeb(req) as ReadableStream) : undefined,
      duplex: 'half',
    } as RequestInit);
    const response = await handler(request);
    // A body the handler refused without reading it all (E_TOO_LARGE, or refused before reading) is never drained:
    // answer, then close the connection, so a client cannot make the host read a gigabyte it will throw away.
    await sendWeb(res, response, hasBody && !req.readableEnded);
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const sweeps = sweepCrashLeftovers(backend, opts.log);
  const addr = server.address() as AddressInfo;
  const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
  baseUrl = `http://${host}:${addr.port}`;
  return {
    url: baseUrl,
    backend,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => {
          void sweeps.then(() => backend.close()).then(resolve, resolve);
        });
        server.closeAllConnections();
      }),
  };
}

/** How long a refused request's connection may stay half-open after the answer (see sendWeb). */
const LINGER_MS = 30_000;

async function sendWeb(res: ServerResponse, r: Response, close = false): Promise<void> {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  if (r.body && !r.headers.get('content-type')?.startsWith('application/json')) {
    // Archives and assets stream: a 5 GiB tar.gz never sits in memory. A client that goes away ends the pipeline.
    const headers: Record<string, string> = {};
    r.headers.forEach((v, k) => {
      headers[k] = v;
    });
    res.writeHead(r.status, headers);
    await pipeline(Readable.fromWeb(r.body as import('node:stream/web').ReadableStream), res).catch(() =>
      res.destroy(),
    );
    return;
  }
  const body = Buffer.from(await r.arrayBuffer());
  const headers: Record<string, string | number> = { 'content-length': body.length };
  r.headers.forEach((v, k) => {
    headers[k] = v;
  });
  if (close) {
    headers.connection = 'close';
    // node:http ends a `connection: close` exchange with socket.destroySoon(): a full close while the client is
    // still sending, so the kernel answers its next segment with a reset, which can make the client's kernel drop the
    // answer it has not read yet (1 in 5 runs of ten refused 1 GB bodies on two busy cores). Only half-close here;
    // the timer below ends the socket.
    const socket = res.socket;
    if (socket) socket.destroySoon = () => void socket.end();
  }
  res.writeHead(r.status, headers);
  res.end(body, () => {
    if (!close) return;
    // Half-close first, so the client reads the answer (a reset would make its kernel drop it), then make sure a
    // client that keeps sending cannot hold the socket (node:http discards what still arrives, nothing is kept).
    // 30 s is nginx's lingering_time: at 5 s, clients of a loaded box (ten refused 1 GB bodies on two busy cores)
    // were sometimes reset before they had read the 413.
    const socket = res.socket;
    socket?.end();
    setTimeout(() => socket?.destroy(), LINGER_MS).unref();
  });
}
