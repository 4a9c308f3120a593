/**
 * `npm run bench:cloud`: the real CLI (cli/dist/studio-lite.js, a process per command) against the deployable Cloud
 * Function (functions/dist under functions-framework) on the Firestore and Storage emulators, over a simulated
 * wide-area link (functions/test/gcp/support/sim-link.ts; default 30 ms round trip, 50 MB/s each way, shared by the
 * API and storage traffic of the client):
 *
 *   CLI --link--> counting proxy --> function --> counting proxy --> storage emulator     (the function's storage ops)
 *   CLI --link--> storage gateway (V4 checks, request counts) --> storage emulator        (signed PUTs and GETs)
 *
 * For (b) 20,000 files of 4 KiB in 100 folders and (a) 1 GiB in 16 files (BENCH_SCALE scales both), it reports the
 * first capture (`run -q -e KEY --capture-once=DIR:data -- true`) and a cold pull (`pull KEY/data`, fresh
 * STUDIOML_HOME): seconds (the whole CLI process), requests to storage (the gateway's count), requests to the API
 * (the proxy's count), storage operations of the function, and the ratio to ONE signed PUT of an uncompressed tar of
 * the same folder through the same link and gateway (the tar is made outside the timing); the pulls are also set
 * against one GET of that tar. The commit (POST …/versions) is timed at one tenth of (b) and at (b), from the proxy:
 * what the client waited and what the function took.
 *
 * Environment: BENCH_SCALE (1), BENCH_LINK_RTT_MS (30), BENCH_LINK_MBPS (50, MB/s = 10^6 bytes/s),
 * BENCH_LINK_CONNECT_RTTS (0: extra round trips for a new connection's handshakes). Prints a table and writes
 * .tmp/cloud-bench.json. Everything shares this machine's cores: the emulators, the function, the gateway and the
 * CLI all compete for them, so the link is a floor on the time, not the only cost.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createReadStream, mkdirSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createFirestoreStores } from '../functions/src/adapters/gcp/firestore-stores.ts';
import { createGcsBlobStore } from '../functions/src/adapters/gcp/gcs-blob-store.ts';
import { type CountingProxy, startCountingProxy } from '../functions/test/gcp/support/counting-proxy.ts';
import {
  type FunctionConfig,
  mintMember,
  REPO_ROOT,
  startFunctionProcess,
} from '../functions/test/gcp/support/function-process.ts';
import { makeServiceAccount } from '../functions/test/gcp/support/service-account.ts';
import { createSimulatedLink } from '../functions/test/gcp/support/sim-link.ts';
import { type StorageGateway, startStorageGateway } from '../functions/test/gcp/support/storage-gateway.ts';
import { startFirestoreEmulator } from '../test-setup/emulators/firestore-emulator.ts';
import { startStorageEmulator } from '../test-setup/emulators/storage-emulator.ts';
import { installNetworkGuard } from '../test-setup/network-guard.mjs';
// @ts-expect-error plain ESM helper without types
import { makeDatasetA, makeDatasetB } from './baselines.mjs';

installNetworkGuard({ mode: 'throw' });
process.env.METADATA_SERVER_DETECTION = 'none';
process.env.GCE_METADATA_HOST = '127.0.0.1:1';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const RTT_MS = Number(process.env.BENCH_LINK_RTT_MS ?? 30);
const MBPS = Number(process.env.BENCH_LINK_MBPS ?? 50);
const CONNECT_RTTS = Number(process.env.BENCH_LINK_CONNECT_RTTS ?? 0);
const GiB = 1024 ** 3;
const SMALL_FILES = Math.max(10, Math.round(20_000 * scale));
const SMALL_FILES_TENTH = Math.max(10, Math.round(SMALL_FILES / 10));
const BIG_BYTES = Math.max(16 << 20, Math.round(GiB * scale));
const CLI = join(REPO_ROOT, 'cli', 'dist', 'studio-lite.js');
const GUARD = `--import=${join(REPO_ROOT, 'test-setup', 'network-guard-preload.mjs')}`;

/** Targets of issue 15, for the report. */
const TARGETS = {
  captureCliRequests: 50,
  captureFunctionStorageOps: 100,
  captureVsTarPut: 2,
  pullCliRequests: 50,
};

interface Phase {
  seconds: number;
  storageRequests: Record<string, number>;
  storageRequestCount: number;
  apiRequests: Record<string, { n: number; ms: number; serverMs: number }>;
  apiRequestCount: number;
  functionStorageOps: Record<string, number>;
  functionStorageOpCount: number;
  /** Bytes that crossed the simulated link, each way. */
  linkBytes: { up: number; down: number };
  /** Those bytes alone at the link's bandwidth (the busier direction): no phase can be faster. */
  linkFloorS: number;
  commit?: { ms: number; serverMs: number; requestBytes: number };
}

const byMethod = (records: { method: string }[]) => {
  const out: Record<string, number> = {};
  for (const r of records) out[r.method] = (out[r.method] ?? 0) + 1;
  return out;
};
/** API requests grouped by route shape (ids and hashes collapsed): count, client-side ms, function ms. */
const byRoute = (records: { method: string; path: string; ms: number; serverMs: number }[]) => {
  const out: Record<string, { n: number; ms: number; serverMs: number }> = {};
  for (const r of records) {
    const route = `${r.method} ${r.path
      .replace(/\?.*$/, '')
      .replace(/\/experiments\/[^/]+/, '/experiments/:key')
      .replace(/\/jobs\/[^/]+/, '/jobs/:key')
      .replace(/\/versions\/[^/]+/, '/versions/:v')}`;
    const o = out[route] ?? { n: 0, ms: 0, serverMs: 0 };
    o.n += 1;
    o.ms += Math.round(r.ms);
    o.serverMs += Math.round(r.serverMs);
    out[route] = o;
  }
  return out;
};

function runCli(args: string[], env: NodeJS.ProcessEnv, cwd: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    const keep = (b: Buffer) => {
      out = (out + b.toString('utf8')).slice(-4000);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`studio-lite ${args.join(' ')} failed (${signal ?? `exit ${code}`}):\n${out}`));
    });
  });
}

function runTool(cmd: string, args: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} failed (${code}): ${err}`))));
  });
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(tmpdir(), 'sl-cloud-bench-'));
  const stops: (() => Promise<void>)[] = [async () => rm(work, { recursive: true, force: true })];
  const t0 = performance.now();
  // Ctrl-C or a timeout: stop the emulators and the function (child processes) before leaving.
  const onSignal = () => {
    (async () => {
      for (const stop of stops) await stop().catch(() => undefined);
    })().finally(() => process.exit(130));
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    const started = await Promise.allSettled([startFirestoreEmulator(), startStorageEmulator()]);
    for (const r of started) if (r.status === 'fulfilled') stops.unshift(() => r.value.stop());
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const fs = (started[0] as PromiseFulfilledResult<Awaited<ReturnType<typeof startFirestoreEmulator>>>).value;
    const st = (started[1] as PromiseFulfilledResult<Awaited<ReturnType<typeof startStorageEmulator>>>).value;
    process.env.FIRESTORE_EMULATOR_HOST = fs.host;
    process.env.STORAGE_EMULATOR_HOST = st.host;
    const emulatorsMs = performance.now() - t0;

    const link = createSimulatedLink({ rttMs: RTT_MS, bytesPerSecond: MBPS * 1e6, connectRtts: CONNECT_RTTS });
    const sa = makeServiceAccount();
    const gateway: StorageGateway = await startStorageGateway({
      emulatorHost: st.host,
      keys: { [sa.client_email]: sa.publicKeyPem },
      link,
      // The tar of dataset (a) is one PUT.
      maxBodyBytes: BIG_BYTES + (64 << 20),
    });
    stops.unshift(() => gateway.close());
    // The function's own storage calls (the SDK's JSON API) go through a counting proxy without the link: in
    // production the function and the bucket are in the same region.
    const fnStorage = await startCountingProxy({ target: st.host });
    stops.unshift(() => fnStorage.close());
    const run = randomBytes(4).toString('hex');
    const config: FunctionConfig = {
      projectId: `demo-cloud-bench-${run}`,
      bucket: `bkt-cloud-bench-${run}`,
      signingKey: sa,
      signedUrlBase: gateway.url,
      firestoreHost: fs.host,
      storageHost: fnStorage.url,
    };
    const meta = createFirestoreStores({ projectId: config.projectId });
    stops.unshift(() => meta.close());
    const token = await mintMember(meta, { team: 'bench', userId: 'bench-user' });
    const fn = await startFunctionProcess({ config, token, timeoutMs: 60_000 });
    stops.unshift(() => fn.stop());
    const api: CountingProxy = await startCountingProxy({ target: fn.url, link });
    stops.unshift(() => api.close());

    // Datasets and their tars, outside every timing.
    const tData = performance.now();
    const dirB = join(work, 'b');
    const dirB10 = join(work, 'b-tenth');
    const dirA = join(work, 'a');
    await makeDatasetB(dirB, { files: SMALL_FILES });
    await makeDatasetB(dirB10, { files: SMALL_FILES_TENTH });
    await makeDatasetA(dirA, { totalBytes: BIG_BYTES });
    const tarB = join(work, 'b.tar');
    const tarA = join(work, 'a.tar');
    await runTool('tar', ['cf', tarB, '-C', dirB, '.']);
    await runTool('tar', ['cf', tarA, '-C', dirA, '.']);
    const datasetsS = (performance.now() - tData) / 1000;

    const resetCounts = () => {
      gateway.resetCounts();
      api.reset();
      fnStorage.reset();
    };
    /** Runs `fn` and what crossed the link meanwhile. */
    const measure = async (fn: () => Promise<void>): Promise<Phase> => {
      resetCounts();
      const up0 = link.up.bytes;
      const down0 = link.down.bytes;
      const t = performance.now();
      await fn();
      const seconds = (performance.now() - t) / 1000;
      const commits = api.records.filter((r) => r.method === 'POST' && /\/artifacts\/data\/versions$/.test(r.path));
      const commit = commits.at(-1);
      return {
        seconds,
        storageRequests: Object.fromEntries(gateway.requests),
        storageRequestCount: gateway.requestCount(),
        apiRequests: byRoute(api.records),
        apiRequestCount: api.records.length,
        functionStorageOps: byMethod(fnStorage.records),
        functionStorageOpCount: fnStorage.records.length,
        linkBytes: { up: link.up.bytes - up0, down: link.down.bytes - down0 },
        linkFloorS: Math.round((Math.max(link.up.bytes - up0, link.down.bytes - down0) / (MBPS * 1e6)) * 100) / 100,
        ...(commit
          ? {
              commit: {
                ms: Math.round(commit.ms),
                serverMs: Math.round(commit.serverMs),
                requestBytes: commit.requestBytes,
              },
            }
          : {}),
      };
    };

    /** A CLI of its own (fresh STUDIOML_HOME, empty working directory) pointed at the deployment. */
    const client = async () => {
      const home = await mkdtemp(join(work, 'home-'));
      const cwd = await mkdtemp(join(work, 'cwd-'));
      const env: NodeJS.ProcessEnv = {
        ...process.env,
        STUDIOML_HOME: home,
        STUDIOML_API_URL: api.url,
        STUDIOML_TOKEN: token,
        NODE_OPTIONS: [process.env.NODE_OPTIONS, GUARD].filter(Boolean).join(' '),
      };
      return { env, cwd, home };
    };
    const capture = async (key: string, dir: string) => {
      const c = await client();
      return measure(() => runCli(['run', '-q', '-e', key, `--capture-once=${dir}:data`, '--', 'true'], c.env, c.cwd));
    };
    const pull = async (key: string) => {
      const c = await client();
      const phase = await measure(() => runCli(['pull', '-q', `${key}/data`, '-o', join(c.cwd, 'out')], c.env, c.cwd));
      await rm(c.cwd, { recursive: true, force: true });
      await rm(c.home, { recursive: true, force: true });
      return phase;
    };

    // The baseline: one signed, create-only PUT of the tar through the same link and gateway; and one GET of it.
    const blobs = createGcsBlobStore({
      bucket: config.bucket,
      credentials: sa,
      apiEndpoint: st.host,
      signedUrlBase: gateway.url,
    });
    const tarPut = async (file: string, name: string) => {
      const { size } = await stat(file);
      const key = `bench/tars/${name}`;
      const req = await blobs.signUpload(key, { size, sha256: '', expiresAt: new Date(Date.now() + 3600_000) });
      const phase = await measure(async () => {
        const res = await fetch(req.url, {
          method: 'PUT',
          headers: { ...req.headers, 'content-length': String(size) },
          body: Readable.toWeb(createReadStream(file)) as ReadableStream,
          duplex: 'half',
        } as RequestInit);
        if (!res.ok) throw new Error(`tar PUT: ${res.status} ${await res.text()}`);
      });
      return { phase, key, size };
    };
    const tarGet = async (key: string) => {
      const req = await blobs.signDownload(key, new Date(Date.now() + 3600_000));
      return measure(async () => {
        const res = await fetch(req.url);
        if (!res.ok || !res.body) throw new Error(`tar GET: ${res.status}`);
        for await (const _ of res.body as unknown as AsyncIterable<Uint8Array>);
      });
    };

    const log = (s: string) => console.log(`[cloud-bench ${((performance.now() - t0) / 1000).toFixed(0)} s] ${s}`);
    log(`emulators, function and datasets up; (b) ${SMALL_FILES} files, (a) ${(BIG_BYTES / 2 ** 20).toFixed(0)} MiB`);
    const putB = await tarPut(tarB, 'b.tar');
    log(`tar (b) PUT ${putB.phase.seconds.toFixed(2)} s`);
    const capB = await capture(`b-${run}`, dirB);
    log(`capture (b) ${capB.seconds.toFixed(2)} s; API ${JSON.stringify(capB.apiRequests)}`);
    const capB10 = await capture(`b10-${run}`, dirB10);
    log(`capture (b/10) ${capB10.seconds.toFixed(2)} s`);
    const pullB = await pull(`b-${run}`);
    log(`pull (b) ${pullB.seconds.toFixed(2)} s`);
    const getB = await tarGet(putB.key);
    const putA = await tarPut(tarA, 'a.tar');
    log(`tar (a) PUT ${putA.phase.seconds.toFixed(2)} s`);
    const capA = await capture(`a-${run}`, dirA);
    log(`capture (a) ${capA.seconds.toFixed(2)} s`);
    const pullA = await pull(`a-${run}`);
    log(`pull (a) ${pullA.seconds.toFixed(2)} s`);
    const getA = await tarGet(putA.key);

    const ratio = (x: number, y: number) => Math.round((x / y) * 100) / 100;
    const result = {
      machine: { cpus: cpus().length, node: process.version },
      link: { rttMs: RTT_MS, megabytesPerSecond: MBPS, connectRtts: CONNECT_RTTS, shared: 'per direction' },
      scale,
      datasets: {
        b: { files: SMALL_FILES, fileBytes: 4096, tarBytes: putB.size },
        bTenth: { files: SMALL_FILES_TENTH },
        a: { files: 16, bytes: BIG_BYTES, tarBytes: putA.size },
      },
      setup: { emulatorsMs: Math.round(emulatorsMs), datasetsS: Math.round(datasetsS * 10) / 10 },
      baselines: { tarPutB: putB.phase, tarGetB: getB, tarPutA: putA.phase, tarGetA: getA },
      b: {
        capture: { ...capB, vsTarPut: ratio(capB.seconds, putB.phase.seconds) },
        pull: {
          ...pullB,
          vsTarPut: ratio(pullB.seconds, putB.phase.seconds),
          vsTarGet: ratio(pullB.seconds, getB.seconds),
        },
      },
      bTenth: { capture: capB10 },
      a: {
        capture: { ...capA, vsTarPut: ratio(capA.seconds, putA.phase.seconds) },
        pull: {
          ...pullA,
          vsTarPut: ratio(pullA.seconds, putA.phase.seconds),
          vsTarGet: ratio(pullA.seconds, getA.seconds),
        },
      },
      commit: {
        [`${SMALL_FILES_TENTH} files`]: capB10.commit,
        [`${SMALL_FILES} files`]: capB.commit,
      },
      targets: TARGETS,
      totalS: Math.round((performance.now() - t0) / 100) / 10,
    };

    const s = (x: number) => `${x.toFixed(2)} s`;
    const rows: string[][] = [
      ['', 'seconds', 'link floor', 'vs tar PUT', 'storage req', 'API req', 'fn storage ops'],
      ...(
        [
          [`capture (b) ${SMALL_FILES} x 4 KiB`, capB, putB.phase],
          [`pull (b), cold`, pullB, putB.phase],
          [`capture (a) ${(BIG_BYTES / GiB).toFixed(2)} GiB / 16`, capA, putA.phase],
          [`pull (a), cold`, pullA, putA.phase],
          [`tar PUT (b) ${(putB.size / 1e6).toFixed(1)} MB`, putB.phase, putB.phase],
          [`tar GET (b)`, getB, putB.phase],
          [`tar PUT (a) ${(putA.size / 1e6).toFixed(0)} MB`, putA.phase, putA.phase],
          [`tar GET (a)`, getA, putA.phase],
        ] as [string, Phase, Phase][]
      ).map(([label, p, base]) => [
        label,
        s(p.seconds),
        s(p.linkFloorS),
        `${ratio(p.seconds, base.seconds)}x`,
        String(p.storageRequestCount),
        String(p.apiRequestCount),
        String(p.functionStorageOpCount),
      ]),
    ];
    const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
    console.log(
      `\nCloud bench (${cpus().length} CPUs, ${process.version}; link ${RTT_MS} ms RTT, ${MBPS} MB/s each way, shared; scale ${scale})`,
    );
    for (const r of rows)
      console.log(`  ${r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ')}`);
    for (const [label, c] of Object.entries(result.commit)) {
      if (c)
        console.log(
          `  commit of ${label}: ${c.ms} ms waited (${c.serverMs} ms in the function, ${(c.requestBytes / 1e6).toFixed(2)} MB body)`,
        );
    }
    console.log(
      `  targets (b): CLI requests ${capB.storageRequestCount + capB.apiRequestCount} (<= ${TARGETS.captureCliRequests}), function storage ops ${capB.functionStorageOpCount} (<= ${TARGETS.captureFunctionStorageOps}), ${result.b.capture.vsTarPut}x tar PUT (<= ${TARGETS.captureVsTarPut}); cold pull ${pullB.storageRequestCount + pullB.apiRequestCount} requests (<= ${TARGETS.pullCliRequests})`,
    );
    const out = join(REPO_ROOT, '.tmp');
    mkdirSync(out, { recursive: true });
    writeFileSync(join(out, 'cloud-bench.json'), `${JSON.stringify(result, null, 2)}\n`);
    console.log(`\nwrote ${join(out, 'cloud-bench.json')} (total ${result.totalS} s)`);
  } finally {
    for (const stop of stops) await stop().catch(() => undefined);
  }
}

await main();
