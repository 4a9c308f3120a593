// Issue 11.4: request bodies are streamed with a hard cap. `studio-lite serve` (a real process) refuses ten 1 GB chunked
// bodies at once with 413 E_TOO_LARGE and its peak resident memory (VmHWM) stays under 300 MB; printed.
import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { collect, freePort, startCli, useSandboxes, waitFor } from './helpers.ts';

const sandbox = useSandboxes();
const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

const GIB = 1 << 30;
const CHUNK = Buffer.alloc(1 << 20, 0x20); // spaces: valid JSON whitespace, so only the size can refuse it

/** Streams up to `total` bytes chunked (no content-length); resolves with the answer, or how the server ended it. */
function sendChunked(port: number, path: string, token: string, total: number) {
  return new Promise<{ status: number; body: string; sent: number }>((resolve) => {
    let sent = 0;
    let answered = false;
    const req = request({
      host: '127.0.0.1',
      port,
      path,
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
    });
    req.on('response', (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8').on('data', (s: string) => {
        body += s;
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, sent }));
      res.on('error', () => resolve({ status: res.statusCode ?? 0, body, sent }));
    });
    req.on('error', () => {
      if (!answered) resolve({ status: 0, body: '', sent });
    });
    const pump = () => {
      while (sent < total && !answered && !req.destroyed) {
        sent += CHUNK.length;
        if (!req.write(CHUNK)) return void req.once('drain', pump);
      }
      if (!answered && !req.destroyed) req.end();
    };
    pump();
  });
}

function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1]);
  return kb / 1024;
}

describe('11.4 request bodies are capped while streaming', () => {
  it.skipIf(process.platform !== 'linux')(
    '11.4 serve refuses ten 1 GB chunked bodies with 413 E_TOO_LARGE and stays under 300 MB resident',
    async () => {
      const sb = sandbox();
      const port = await freePort();
      const child = startCli(sb, ['serve', '--port', String(port)]);
      stops.push(() => child.kill('SIGTERM'));
      const out = collect(child);
      await waitFor(() => out.stdoutSoFar().includes('listening on'), 'serve to listen');
      const token = (JSON.parse(readFileSync(join(sb.home, 'credentials.json'), 'utf8')) as { token: string }).token;
      const before = peakRssMb(child.pid as number);
      const started = Date.now();
      // The default cap (8 MiB) and the largest one (32 MiB, commits), all at once.
      const paths = [
        ...Array.from({ length: 7 }, () => '/v1/experiments'),
        ...Array.from({ length: 3 }, () => '/v1/experiments/x/artifacts/t/versions'),
      ];
      const results = await Promise.all(paths.map((p) => sendChunked(port, p, token, GIB)));
      const peak = peakRssMb(child.pid as number);
      process.stdout.write(
        `[11.4] serve peak RSS ${peak.toFixed(0)} MB (before: ${before.toFixed(0)} MB) refusing ten 1 GB chunked ` +
          `bodies in ${Date.now() - started} ms; bytes the client got to send: ${results.map((r) => r.sent >> 20).join(', ')} MiB\n`,
      );
      for (const r of results) {
        expect(r.status, r.body).toBe(413);
        expect(JSON.parse(r.body).error.code).toBe('E_TOO_LARGE');
        expect(r.sent).toBeLessThan(GIB);
      }
      expect(peak).toBeLessThan(300);
      // The server still answers afterwards.
      const who = await fetch(`http://127.0.0.1:${port}/v1/whoami`, { headers: { authorization: `Bearer ${token}` } });
      expect(who.status).toBe(200);
    },
  );
});
