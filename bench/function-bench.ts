/**
 * `npm run bench:function`: the deployable Cloud Function (functions/dist under the real functions-framework binary)
 * on the Firestore and Storage emulators, all on loopback. Measures
 *   - bundle size and cold start (spawn to the first 200 of GET /v1/whoami; median of BENCH_COLD_RUNS, default 3),
 *   - URL signing rate: one plan-upload request for 1,000 missing blobs over 256 KiB (median of 3 requests): each gets
 *     a signed PUT of its own (smaller blobs travel in packs, one URL per pack: issue 15),
 *   - API latency: plan-upload requests of 100 missing small blobs (1 B - 4 KiB: one pack each) from 50 concurrent
 *     clients (BENCH_API_REQUESTS, default 1,000 in total), p50/p99 and throughput.
 * Prints a table and writes .tmp/function-bench.json. Everything (emulators, gateway, function, clients) shares this
 * machine's cores, so the latency figures are a floor for one instance under load, not a production forecast.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import type { PlanUploadResponse } from '@studio-lite/functions/contract';
import { createFirestoreStores } from '../functions/src/adapters/gcp/firestore-stores.ts';
import {
  FUNCTION_DIST,
  type FunctionConfig,
  mintMember,
  REPO_ROOT,
  startFunctionProcess,
} from '../functions/test/gcp/support/function-process.ts';
import { makeServiceAccount } from '../functions/test/gcp/support/service-account.ts';
import { startStorageGateway } from '../functions/test/gcp/support/storage-gateway.ts';
import { startFirestoreEmulator } from '../test-setup/emulators/firestore-emulator.ts';
import { startStorageEmulator } from '../test-setup/emulators/storage-emulator.ts';
import { installNetworkGuard } from '../test-setup/network-guard.mjs';

// Nothing here may leave the machine; Google clients must not probe the metadata server.
installNetworkGuard({ mode: 'throw' });
process.env.METADATA_SERVER_DETECTION = 'none';
process.env.GCE_METADATA_HOST = '127.0.0.1:1';

const COLD_RUNS = Number(process.env.BENCH_COLD_RUNS ?? 3);
const SIGN_BLOBS = 1000;
const API_BLOBS = 100;
const API_CLIENTS = Number(process.env.BENCH_API_CLIENTS ?? 50);
const API_REQUESTS = Number(process.env.BENCH_API_REQUESTS ?? 1000);

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] as number;
};
const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)] as number;
};
/** The largest blob that travels in a pack (LIMITS.packMaxBlobSize): bigger ones get a signed URL each. */
const PACK_MAX_BLOB = 256 * 1024;
/** `n` random blob descriptions, sizes in 1 … 4096 (small: packed) or above PACK_MAX_BLOB (large: one URL each). */
const randomBlobs = (n: number, large = false) =>
  Array.from({ length: n }, () => ({
    sha256: randomBytes(32).toString('hex'),
    size: (large ? PACK_MAX_BLOB : 0) + 1 + (randomBytes(2).readUInt16BE() % 4096),
  }));

async function main(): Promise<void> {
  const bundle = join(FUNCTION_DIST, 'index.js');
  const bundleBytes = statSync(bundle).size;
  const bundleGzipBytes = gzipSync(readFileSync(bundle), { level: 9 }).length;

  const t0 = performance.now();
  const started = await Promise.allSettled([startFirestoreEmulator(), startStorageEmulator()]);
  const stops: (() => Promise<void>)[] = [];
  for (const r of started) if (r.status === 'fulfilled') stops.push(() => r.value.stop());
  try {
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const fs = (started[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof startFirestoreEmulator>>>).value;
    const st = (started[1] as PromiseFulfilledResult<Awaited<ReturnType<typeof startStorageEmulator>>>).value;
    const emulatorsMs = performance.now() - t0;
    process.env.FIRESTORE_EMULATOR_HOST = fs.host;
    const run = randomBytes(4).toString('hex');
    const sa = makeServiceAccount();
    const gateway = await startStorageGateway({ emulatorHost: st.host, keys: { [sa.client_email]: sa.publicKeyPem } });
    stops.unshift(() => gateway.close());
    const config: FunctionConfig = {
      projectId: `demo-bench-${run}`,
      bucket: `bkt-bench-${run}`,
      signingKey: sa,
      signedUrlBase: gateway.url,
      firestoreHost: fs.host,
      storageHost: st.host,
    };
    const meta = createFirestoreStores({ projectId: config.projectId });
    stops.unshift(() => meta.close());
    const token = await mintMember(meta, { team: 'bench', userId: 'bench-user' });
    const headers = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };

    // Cold start: a fresh process each time.
    const cold: number[] = [];
    for (let i = 0; i < COLD_RUNS; i++) {
      const fn = await startFunctionProcess({ config, token });
      cold.push(fn.coldStartMs);
      await fn.stop();
    }

    const fn = await startFunctionProcess({ config, token });
    stops.unshift(() => fn.stop());
    const post = async <T>(path: string, body: unknown): Promise<{ status: number; body: T; ms: number }> => {
      const t = performance.now();
      const res = await fetch(`${fn.url}${path}`, { method: 'POST', headers, body: JSON.stringify(body) });
      const json = (await res.json()) as T;
      return { status: res.status, body: json, ms: performance.now() - t };
    };
    const created = await post('/v1/experiments', { key: 'bench' });
    if (created.status !== 201) throw new Error(`create experiment: ${created.status} ${JSON.stringify(created.body)}`);
    const planPath = '/v1/experiments/bench/artifacts/data/uploads';
    const plan = async (n: number, large = false) => {
      const r = await post<PlanUploadResponse>(planPath, { blobs: randomBlobs(n, large) });
      const planned =
        r.status === 200 ? r.body.uploads.length + r.body.packs.reduce((k, p) => k + p.members.length, 0) : -1;
      if (planned !== n || (large && r.body.uploads.length !== n)) {
        throw new Error(`plan of ${n}: ${r.status} ${JSON.stringify(r.body).slice(0, 300)}`);
      }
      return r.ms;
    };

    // Signing rate: one plan request for 1,000 missing large blobs, one URL each (includes the Firestore lookup).
    await plan(10, true); // warm the connection and the JIT
    const signMs: number[] = [];
    for (let i = 0; i < 3; i++) signMs.push(await plan(SIGN_BLOBS, true));
    const signRequestMs = median(signMs);

    // Latency under concurrency.
    await Promise.all(Array.from({ length: API_CLIENTS }, () => plan(API_BLOBS)));
    const latencies: number[] = [];
    let next = 0;
    const tLoad = performance.now();
    await Promise.all(
      Array.from({ length: API_CLIENTS }, async () => {
        while (next < API_REQUESTS) {
          next++;
          latencies.push(await plan(API_BLOBS));
        }
      }),
    );
    const loadS = (performance.now() - tLoad) / 1000;

    const result = {
      machine: { cpus: cpus().length, node: process.version },
      bundle: { bytes: bundleBytes, gzipBytes: bundleGzipBytes },
      emulatorsStartMs: Math.round(emulatorsMs),
      coldStartMs: { median: Math.round(median(cold)), runs: cold.map(Math.round) },
      signing: {
        blobs: SIGN_BLOBS,
        requestMs: Math.round(signRequestMs),
        urlsPerSecond: Math.round(SIGN_BLOBS / (signRequestMs / 1000)),
        runsMs: signMs.map(Math.round),
      },
      planLatency: {
        blobsPerRequest: API_BLOBS,
        clients: API_CLIENTS,
        requests: latencies.length,
        p50Ms: Math.round(percentile(latencies, 50)),
        p99Ms: Math.round(percentile(latencies, 99)),
        maxMs: Math.round(Math.max(...latencies)),
        requestsPerSecond: Math.round((latencies.length / loadS) * 10) / 10,
        /** Blobs planned per second (small blobs: one pack URL per request). */
        blobsPerSecond: Math.round((latencies.length * API_BLOBS) / loadS),
      },
    };
    const rows: [string, string][] = [
      [
        'bundle functions/dist/index.js',
        `${(bundleBytes / 1e6).toFixed(2)} MB (${(bundleGzipBytes / 1e6).toFixed(2)} MB gzip)`,
      ],
      [
        'cold start to first 200 (median)',
        `${result.coldStartMs.median} ms (runs ${result.coldStartMs.runs.join(', ')})`,
      ],
      [
        `sign: 1 plan of ${SIGN_BLOBS} missing blobs > 256 KiB`,
        `${result.signing.requestMs} ms = ${result.signing.urlsPerSecond} URLs/s`,
      ],
      [
        `plan(${API_BLOBS} small = 1 pack) x ${latencies.length}, ${API_CLIENTS} clients`,
        `p50 ${result.planLatency.p50Ms} ms, p99 ${result.planLatency.p99Ms} ms, ${result.planLatency.requestsPerSecond} req/s`,
      ],
    ];
    const w = Math.max(...rows.map((r) => r[0].length));
    console.log(
      `\nCloud Function bench (${cpus().length} CPUs, ${process.version}; emulators + function + clients on this machine)`,
    );
    for (const [k, v] of rows) console.log(`  ${k.padEnd(w)}  ${v}`);
    const out = join(REPO_ROOT, '.tmp');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'function-bench.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwrote ${join(out, 'function-bench.json')}`);
  } finally {
    for (const s of stops) await s().catch(() => undefined);
  }
}

await main();
