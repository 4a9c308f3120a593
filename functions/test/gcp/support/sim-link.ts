import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { Transform, type TransformCallback } from 'node:stream';

/**
 * A simulated wide-area link for loopback servers (the storage gateway, the benchmark's API proxy): every request
 * waits one round trip before it is answered, and request and response bodies move at `bytesPerSecond`.
 *
 * Bandwidth is SHARED per direction across all requests and connections that use the same link object (one pacer
 * for uploads, one for downloads), like a client's access line: 8 parallel uploads at 50 MB/s together move 50 MB/s,
 * not 400. Bodies are metered in slices of at most 64 KiB, so concurrent transfers interleave instead of queueing
 * whole bodies behind each other. Not modelled: TCP slow start and congestion windows, loss, TLS (set `connectRtts`
 * to charge a new connection's TCP + TLS handshakes), the kernel's socket buffers on loopback (a client may believe
 * it has sent a body before the server has metered it; its answer still waits for the metering).
 */
export interface LinkOptions {
  /** Round-trip time in milliseconds, charged once per request before its answer. */
  rttMs: number;
  /** Bandwidth of each direction in bytes per second (shared by every transfer in that direction). */
  bytesPerSecond: number;
  /**
   * Extra round trips charged to the first request of each new connection (TCP handshake = 1, + TLS 1.3 = 2);
   * default 0. Clients that keep connections alive pay it once per connection.
   */
  connectRtts?: number;
}

/** Meters bytes through one direction of a link: a FIFO of time slots at the link's bandwidth. */
export class Pacer {
  /** When the last reserved slot ends (performance.now() milliseconds). */
  private next = 0;
  /** Bytes metered so far. */
  bytes = 0;
  constructor(readonly bytesPerSecond: number) {
    if (!(bytesPerSecond > 0)) throw new Error(`bytesPerSecond must be > 0, not ${bytesPerSecond}`);
  }

  /**
   * Resolves when `n` more bytes have crossed the link. A backlog keeps its schedule even when a timer fires late
   * (so timer slack does not lower the rate); after the link was idle for more than IDLE_MS it starts afresh.
   */
  async take(n: number): Promise<void> {
    this.bytes += n;
    const now = performance.now();
    const start = now - this.next > IDLE_MS ? now : this.next;
    this.next = start + (n * 1000) / this.bytesPerSecond;
    const wait = this.next - now;
    if (wait >= 1) await sleep(wait);
  }
}

const IDLE_MS = 2;
/** Largest slice metered at once (interleaving granularity between concurrent transfers). */
const SLICE = 64 * 1024;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface SimulatedLink {
  readonly rttMs: number;
  readonly bytesPerSecond: number;
  readonly connectRtts: number;
  /** Client -> server (request bodies). */
  readonly up: Pacer;
  /** Server -> client (response bodies). */
  readonly down: Pacer;
  /** Waits the round trip(s) a request costs before it can be answered (one, plus the handshake on a new socket). */
  roundTrip(req: IncomingMessage): Promise<void>;
  /** The request's body as it arrives over the link (metered by `up`). */
  receive(req: AsyncIterable<Buffer>): AsyncGenerator<Buffer>;
  /** A pass-through stream for a response body, metered by `down`. */
  sendStream(): Transform;
}

export function createSimulatedLink(o: LinkOptions): SimulatedLink {
  if (!(o.rttMs >= 0)) throw new Error(`rttMs must be >= 0, not ${o.rttMs}`);
  const up = new Pacer(o.bytesPerSecond);
  const down = new Pacer(o.bytesPerSecond);
  const connectRtts = o.connectRtts ?? 0;
  const seen = new WeakSet<Socket>();
  return {
    rttMs: o.rttMs,
    bytesPerSecond: o.bytesPerSecond,
    connectRtts,
    up,
    down,
    async roundTrip(req) {
      let rtts = 1;
      if (!seen.has(req.socket)) {
        seen.add(req.socket);
        rtts += connectRtts;
      }
      if (o.rttMs > 0) await sleep(rtts * o.rttMs);
    },
    async *receive(req) {
      for await (const chunk of req) {
        for (let at = 0; at < chunk.length; at += SLICE) {
          const slice = chunk.subarray(at, at + SLICE);
          await up.take(slice.length);
          yield slice;
        }
      }
    },
    sendStream() {
      return new Transform({
        transform(chunk: Buffer, _enc, done: TransformCallback) {
          (async () => {
            for (let at = 0; at < chunk.length; at += SLICE) {
              const slice = chunk.subarray(at, at + SLICE);
              await down.take(slice.length);
              this.push(slice);
            }
          })().then(() => done(), done);
        },
      });
    },
  };
}

/** A link given as options or already made (to share one link between several servers). */
export function toLink(link: LinkOptions | SimulatedLink | undefined): SimulatedLink | undefined {
  if (!link) return undefined;
  return 'up' in link ? link : createSimulatedLink(link);
}
