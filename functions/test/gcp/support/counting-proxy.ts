import { Agent, createServer, type IncomingMessage, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { type LinkOptions, type SimulatedLink, toLink } from './sim-link.ts';

/**
 * A reverse proxy on 127.0.0.1 that records every request it forwards to `target` (the Cloud Function for the API
 * side of a benchmark; the storage emulator for the function's own storage calls). With `link`, it also plays the
 * wide-area link in front of the target (sim-link.ts): one round trip per request, bodies paced in both directions.
 */
export interface ProxyRecord {
  method: string;
  /** Path and query as the client sent them. */
  path: string;
  status: number;
  /** Arrival of the request to the last byte of the answer sent (what the client waits, link included). */
  ms: number;
  /**
   * The request's last byte handed to the target to the target's answer headers: the target's own processing time,
   * without the link's round trip and body transfers.
   */
  serverMs: number;
  requestBytes: number;
  responseBytes: number;
}

export interface CountingProxy {
  url: string;
  readonly records: ProxyRecord[];
  /** Forgets the records (between measured phases). */
  reset(): void;
  close(): Promise<void>;
}

export async function startCountingProxy(opts: {
  /** e.g. http://127.0.0.1:8080 */
  target: string;
  link?: LinkOptions | SimulatedLink;
}): Promise<CountingProxy> {
  const target = new URL(opts.target);
  const link = toLink(opts.link);
  const agent = new Agent({ keepAlive: true, maxSockets: 64 });
  const records: ProxyRecord[] = [];

  const forward = async (req: IncomingMessage, res: import('node:http').ServerResponse) => {
    const started = performance.now();
    if (link) await link.roundTrip(req);
    const rec: ProxyRecord = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      status: 0,
      ms: 0,
      serverMs: 0,
      requestBytes: 0,
      responseBytes: 0,
    };
    const headers = { ...req.headers, host: target.host };
    let sentAt = 0;
    const answer = new Promise<IncomingMessage>((resolve, reject) => {
      const out = request(
        {
          protocol: target.protocol,
          hostname: target.hostname,
          port: target.port,
          method: req.method,
          path: req.url,
          headers,
          agent,
        },
        resolve,
      );
      out.on('error', reject);
      out.on('finish', () => {
        sentAt = performance.now();
      });
      const body = link ? Readable.from(link.receive(req)) : req;
      body.on('data', (c: Buffer) => {
        rec.requestBytes += c.length;
      });
      pipeline(body, out).catch(reject);
    });
    const up = await answer;
    rec.serverMs = performance.now() - (sentAt || performance.now());
    rec.status = up.statusCode ?? 0;
    res.writeHead(rec.status, up.headers);
    up.on('data', (c: Buffer) => {
      rec.responseBytes += c.length;
    });
    await (link ? pipeline(up, link.sendStream(), res) : pipeline(up, res));
    rec.ms = performance.now() - started;
    records.push(rec);
  };

  const server = createServer((req, res) => {
    forward(req, res).catch((err: unknown) => {
      if (res.headersSent) res.destroy(err as Error);
      else res.writeHead(502, { 'content-type': 'text/plain' }).end(`proxy error: ${String(err)}`);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    records,
    reset: () => {
      records.length = 0;
    },
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
