// Shared by the whole-process benches (process-bench.mjs, push-bench.mjs): the CLI binary, timing a process after a
// `sync`, medians, scratch folders, and a counting HTTP proxy. The datasets come from baselines.mjs.
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync } from 'node:fs';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const bin = fileURLToPath(new URL('../cli/bin/studio-lite.js', import.meta.url));
export const scale = Number(process.env.BENCH_SCALE ?? 1);
export const runs = Number(process.env.BENCH_RUNS ?? 3);

/** Whether a command is on PATH. */
export function has(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** Seconds of one process run (after a sync); throws when it fails. Blocks this process while it runs. */
export function timed(cmd, args, opts = {}) {
  execFileSync('sync');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], ...opts });
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return s;
}

/**
 * Like `timed`, without blocking this process (for benches that serve something themselves, e.g. a proxy):
 * `{ seconds, stdout }`; throws when the process fails.
 */
export async function timedAsync(cmd, args, opts = {}) {
  execFileSync('sync');
  const t0 = process.hrtime.bigint();
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (s) => {
    stdout += s;
  });
  child.stderr.setEncoding('utf8').on('data', (s) => {
    stderr += s;
  });
  const code = await new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (code !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${code}: ${stderr}`);
  return { seconds, stdout };
}

export const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** A scratch root, and `fresh(name)`: a new folder under it (the caller removes the root at the end). */
export function scratch(prefix) {
  const root = mkdtempSync(join(tmpdir(), prefix));
  const fresh = (name) => {
    const d = join(root, 'round', `${name}-${Math.random().toString(36).slice(2)}`);
    mkdirSync(d, { recursive: true });
    return d;
  };
  return { root, fresh };
}

/** Per-metric samples and their medians. */
export function samples() {
  const all = {};
  return {
    all,
    add(k, v) {
      all[k] ??= [];
      all[k].push(v);
    },
    medians: () => Object.fromEntries(Object.entries(all).map(([k, xs]) => [k, median(xs)])),
  };
}

/**
 * An HTTP proxy on 127.0.0.1 that forwards every request to `upstream` (a base URL) as it is and counts them, per
 * route (`GET /v1/experiments/:key`, `PUT /storage/…`). `reset()` returns the counts so far and starts again.
 */
export async function startCountingProxy() {
  let upstream = null;
  let counts = {};
  const agent = new http.Agent({ keepAlive: true });
  const server = http.createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    const route = path.startsWith('/storage')
      ? '/storage/…'
      : path.replace(/^\/v1\/experiments\/[^/]+/, '/v1/experiments/:key');
    const name = `${req.method} ${route}`;
    counts[name] = (counts[name] ?? 0) + 1;
    const u = new URL(req.url ?? '/', upstream);
    const out = http.request(u, { method: req.method, headers: req.headers, agent }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  server.keepAliveTimeout = 30_000;
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return {
    url,
    /** Where requests go from now on. */
    target(base) {
      upstream = base;
    },
    reset() {
      const c = counts;
      counts = {};
      return { total: Object.values(c).reduce((a, b) => a + b, 0), routes: c };
    },
    close: () =>
      new Promise((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
