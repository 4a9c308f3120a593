import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { ResumableStartRequest } from '@studio-lite/functions/contract';

const QUANTUM = 256 * 1024;

export interface FakeSession {
  id: string;
  size: number;
  data: Buffer;
  /** Bytes persisted (what a status query reports). */
  received: number;
  complete: boolean;
  expired: boolean;
}

export interface ResumableServerOptions {
  /**
   * Drop the connection once the `nth` chunk PUT (1-based, over the server's life) has delivered `afterBytes` of its
   * body; what arrived of that chunk is kept rounded down to 256 KiB, as GCS may keep part of a broken chunk.
   */
  drop?: { nth: number; afterBytes: number };
  /** Status of the answer that completes an object (default 200; 412 plays "the create-only object exists"). */
  finalStatus?: number;
}

export interface LoggedRequest {
  method: string;
  url: string;
  contentRange: string | undefined;
  /** Body bytes that arrived. */
  bytes: number;
}

/**
 * A small GCS-like resumable upload endpoint on 127.0.0.1, strict about what a client sends: POST /start/<name>
 * (signed headers `x-goog-resumable: start` and `x-goog-content-length-range: n,n`, empty body) answers 201 with a
 * session URI; PUT /session/<id> takes a chunk `bytes a-b/total` only if `a` is exactly what it holds (so a
 * re-sent persisted byte is a violation), every chunk but the last is a multiple of 256 KiB, `total` is the signed
 * size and content-length matches; an empty PUT `bytes *\/total` reports 308 + Range. Violations are answered 400
 * and listed in `violations`.
 */
export async function startResumableServer(opts: ResumableServerOptions = {}) {
  const sessions = new Map<string, FakeSession>();
  const log: LoggedRequest[] = [];
  const violations: string[] = [];
  const stats = { posts: 0, chunkPuts: 0, statusQueries: 0, bytesReceived: 0, bytesLost: 0 };
  let inFlight = 0;

  const refuse = (res: ServerResponse, why: string) => {
    violations.push(why);
    res.writeHead(400, { 'content-type': 'text/plain' }).end(why);
  };

  const handle = (req: IncomingMessage, res: ServerResponse, entry: LoggedRequest) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (req.method === 'POST' && url.pathname.startsWith('/start/')) {
      stats.posts++;
      req.on('data', (c: Buffer) => {
        entry.bytes += c.length;
      });
      req.on('end', () => {
        const range = /^(\d+),(\d+)$/.exec(String(req.headers['x-goog-content-length-range'] ?? ''));
        if (req.headers['x-goog-resumable'] !== 'start' || !range) return refuse(res, 'start without signed headers');
        if (entry.bytes !== 0) return refuse(res, 'start POST with a body');
        const id = randomBytes(8).toString('hex');
        const size = Number(range[1]);
        sessions.set(id, { id, size, data: Buffer.alloc(size), received: 0, complete: false, expired: false });
        res.writeHead(201, { location: `${base}/session/${id}`, 'content-length': 0 }).end();
      });
      return;
    }
    const m = /^\/session\/([0-9a-z-]+)$/.exec(url.pathname);
    const s = m ? sessions.get(m[1] as string) : undefined;
    if (req.method !== 'PUT' || !s || s.expired) {
      req.resume();
      req.on('end', () => res.writeHead(404, { 'content-type': 'text/plain' }).end('no such upload'));
      return;
    }
    const cr = entry.contentRange ?? '';
    const status = /^bytes \*\/(\d+)$/.exec(cr);
    const chunk = /^bytes (\d+)-(\d+)\/(\d+)$/.exec(cr);
    const answer = () => {
      if (s.complete) return res.writeHead(opts.finalStatus ?? 200, { 'content-length': 0 }).end();
      res
        .writeHead(308, { ...(s.received > 0 ? { range: `bytes=0-${s.received - 1}` } : {}), 'content-length': 0 })
        .end();
    };
    if (status) {
      stats.statusQueries++;
      req.on('data', (c: Buffer) => {
        entry.bytes += c.length;
      });
      req.on('end', () => {
        if (entry.bytes !== 0) return refuse(res, `status query ${cr} with a body`);
        if (Number(status[1]) !== s.size) return refuse(res, `status query ${cr}: total is not ${s.size}`);
        if (s.received === s.size) s.complete = true;
        answer();
      });
      return;
    }
    if (!chunk) {
      req.resume();
      req.on('end', () => refuse(res, `bad content-range "${cr}"`));
      return;
    }
    stats.chunkPuts++;
    const nth = stats.chunkPuts;
    const [a, b, total] = [Number(chunk[1]), Number(chunk[2]), Number(chunk[3])];
    const len = b - a + 1;
    const problem =
      total !== s.size
        ? `total ${total} is not ${s.size}`
        : a !== s.received
          ? `chunk starts at ${a} but ${s.received} bytes are stored`
          : len <= 0 || b >= total
            ? 'empty or overlong range'
            : b + 1 < total && len % QUANTUM !== 0
              ? `non-final chunk of ${len} bytes is not a multiple of 256 KiB`
              : Number(req.headers['content-length']) !== len
                ? `content-length ${req.headers['content-length']} is not ${len}`
                : undefined;
    if (problem) {
      req.resume();
      req.on('end', () => refuse(res, `${cr}: ${problem}`));
      return;
    }
    let got = 0;
    let settled = false;
    /** Keeps what arrived of a broken chunk, rounded down to 256 KiB. */
    const keepPartial = () => {
      if (settled) return;
      settled = true;
      const kept = Math.floor(got / QUANTUM) * QUANTUM;
      s.received = a + kept;
      stats.bytesLost += got - kept;
    };
    req.on('data', (c: Buffer) => {
      if (settled) return;
      const room = Math.max(0, Math.min(c.length, len - got));
      c.copy(s.data, a + got, 0, room);
      got += c.length;
      entry.bytes += c.length;
      stats.bytesReceived += c.length;
      if (opts.drop?.nth === nth && got >= opts.drop.afterBytes) {
        keepPartial();
        req.socket.destroy();
      }
    });
    req.on('close', () => {
      if (!req.complete) keepPartial();
    });
    req.on('end', () => {
      if (settled) return;
      settled = true;
      if (got !== len) return refuse(res, `${cr}: body of ${got} bytes`);
      s.received = b + 1;
      if (s.received === s.size) s.complete = true;
      answer();
    });
  };

  const server = createServer((req, res) => {
    inFlight++;
    let done = false;
    const finish = () => {
      if (!done) inFlight--;
      done = true;
    };
    res.on('finish', finish);
    res.on('close', finish);
    const entry: LoggedRequest = {
      method: req.method ?? '',
      url: req.url ?? '',
      contentRange: req.headers['content-range'],
      bytes: 0,
    };
    log.push(entry);
    handle(req, res, entry);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    base,
    sessions,
    log,
    violations,
    stats,
    /** A signed-looking start request for one object of `size` bytes. */
    startRequest(name: string, size: number): ResumableStartRequest {
      return {
        method: 'POST',
        url: `${base}/start/${name}?X-Goog-Signature=abc`,
        headers: {
          'content-type': 'application/octet-stream',
          'x-goog-content-length-range': `${size},${size}`,
          'x-goog-if-generation-match': '0',
          'x-goog-resumable': 'start',
        },
        expiresAt: new Date(Date.now() + 600_000).toISOString(),
      };
    },
    /** Every session answers 404 from now on (GCS dropped it). */
    expireAll() {
      for (const s of sessions.values()) s.expired = true;
    },
    /** Resolves once no request is being handled (a broken chunk's bytes are accounted for). */
    async idle() {
      do await new Promise((r) => setTimeout(r, 20));
      while (inFlight > 0);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
