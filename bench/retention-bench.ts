/**
 * `npm run bench:retention` (also part of `npm run bench`, after the GC bench): applying a retention policy to a team
 * of 100 finished experiments × 1 mutable artifact × 1,000 versions (100,000 versions), `keepLast 10`, on the embedded
 * backend (SQLite) and on the Firestore emulator when it can start (Java and the google-cloud-cli emulator JAR, or
 * FIRESTORE_EMULATOR_HOST; otherwise that half is skipped and says why).
 *
 * The versions are created directly through the ExperimentStore port (commitVersion; no manifests or blobs: applying a
 * policy reads none; on Firestore versions 2.. are written in batches in the adapter's layout, see firestore()), the
 * policy is set and applied through the core (setRetention, runRetention) as the API and the scheduled task do. Measured: a dry run, the apply (99,000 deletions), an idle apply (nothing left to delete). On
 * Firestore the client's write operations are counted (every set/create/update/delete a batch or document write
 * carries, including a batch redone one document at a time) and the documents read, per deleted version.
 * Sizes scale with BENCH_SCALE (experiments and versions per experiment both × scale, at least 2 and 20).
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { DocumentReference, Firestore, Query, type QuerySnapshot, WriteBatch } from '@google-cloud/firestore';
import type { RetentionReport } from '@studio-lite/functions/contract';
import { teamCollection } from '../functions/src/adapters/gcp/firestore-kit.ts';
import { readGcpConfig } from '../functions/src/config/gcp-config.ts';
import { provisionOwner } from '../functions/src/core/accounts.ts';
import type { CoreDeps } from '../functions/src/core/context.ts';
import { type CommitVersionInput, versionFromCommit } from '../functions/src/core/ports.ts';
import { runRetention, setRetention } from '../functions/src/core/retention.ts';
import { openGcpBackend } from '../functions/src/hosts/cloud-function/gcp-backend.ts';
import { openLocalBackend } from '../functions/src/hosts/local-server/local-backend.ts';
import { startFirestoreEmulator } from '../test-setup/emulators/firestore-emulator.ts';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const experiments = Math.max(2, Math.round(100 * scale));
const perExperiment = Math.max(20, Math.round(1000 * scale));
const KEEP_LAST = 10;
const TEAM = 'bench';
const STATS = { hashedFiles: 0, hashedBytes: 0, uploadedBlobs: 0, uploadedBytes: 0, skipped: [] };
const seconds = (t0: number) => (performance.now() - t0) / 1000;

/** Write operations and documents read by every Firestore client of this process (prototype hooks). */
const fsCount = { writes: 0, commits: 0, reads: 0 };
function countFirestore(): void {
  const wb = WriteBatch.prototype as unknown as Record<string, (...a: unknown[]) => unknown>;
  for (const op of ['set', 'create', 'update', 'delete']) {
    const orig = wb[op] as (...a: unknown[]) => unknown;
    wb[op] = function (this: unknown, ...args: unknown[]) {
      fsCount.writes += 1;
      return orig.apply(this, args);
    };
  }
  const commit = WriteBatch.prototype.commit;
  WriteBatch.prototype.commit = function (this: WriteBatch) {
    fsCount.commits += 1;
    return commit.call(this);
  } as typeof commit;
  const qget = Query.prototype.get;
  Query.prototype.get = async function (this: Query) {
    const snap = (await qget.call(this)) as QuerySnapshot;
    fsCount.reads += Math.max(1, snap.size);
    return snap;
  } as typeof qget;
  const dget = DocumentReference.prototype.get;
  DocumentReference.prototype.get = async function (this: DocumentReference) {
    fsCount.reads += 1;
    return dget.call(this);
  } as typeof dget;
  const getAll = Firestore.prototype.getAll;
  Firestore.prototype.getAll = async function (this: Firestore, ...args: Parameters<typeof getAll>) {
    const snaps = await getAll.apply(this, args);
    fsCount.reads += snaps.length;
    return snaps;
  } as typeof getAll;
}

/** Runs `fn` over 0..n-1 with at most `width` at a time. */
async function pool(n: number, width: number, fn: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, n) }, async () => {
      for (let i = next++; i < n; i = next++) await fn(i);
    }),
  );
}

interface Result {
  backend: string;
  experiments: number;
  versions: number;
  buildSeconds: number;
  dryRunSeconds: number;
  applySeconds: number;
  deleted: number;
  deletedPerSecond: number;
  idleApplySeconds: number;
  firestore?: {
    writes: number;
    writesPerDeleted: number;
    commits: number;
    reads: number;
    readsPerDeleted: number;
    /** Documents the idle apply read (what a daily run costs once the policy is in force). */
    idleReads: number;
  };
}

/** Version `v` of `key`'s mutable artifact `checkpoints`, captured a minute after the previous one. */
function capture(key: string, v: number, at: string): CommitVersionInput {
  return {
    team: TEAM,
    experiment: key,
    tag: 'checkpoints',
    mutable: true,
    digest: `${key}-${v}`,
    manifestSha256: `${key}-manifest-${v}`,
    files: 3,
    bytes: 1_000_000,
    stats: STATS,
    createdBy: 'bench',
    createdAt: new Date(Date.parse(at) + v * 60_000).toISOString(),
  };
}

/**
 * Builds the team (`width` experiments at a time), sets `keepLast 10`, then times a dry run, the apply and an idle
 * apply. `bulk`: appends versions 2.. of an experiment faster than one commitVersion each (checked through the port).
 */
async function measure(
  backend: string,
  deps: CoreDeps,
  width: number,
  bulk?: (key: string, versions: CommitVersionInput[]) => Promise<void>,
): Promise<Result> {
  const secret = await provisionOwner(deps, { userId: 'bench', name: 'bench', team: TEAM });
  const admin = await deps.identity.authenticate(secret);
  const at = new Date(Date.now() - 86_400_000).toISOString();
  const t0 = performance.now();
  await pool(experiments, width, async (e) => {
    const key = `exp-${String(e).padStart(4, '0')}`;
    await deps.experiments.createExperiment({
      team: TEAM,
      key,
      project: null,
      owner: 'bench',
      status: 'finished',
      command: ['python', 'train.py'],
      cwd: null,
      host: 'bench',
      git: null,
      createdAt: at,
      startedAt: at,
      finishedAt: at,
      exitCode: 0,
      signal: null,
      warnings: [],
      lineage: [],
    });
    // The first version through the port (it creates the artifact); the others through `bulk` when given.
    await deps.experiments.commitVersion(capture(key, 1, at));
    if (bulk)
      await bulk(
        key,
        Array.from({ length: perExperiment - 1 }, (_, i) => capture(key, i + 2, at)),
      );
    else for (let v = 2; v <= perExperiment; v++) await deps.experiments.commitVersion(capture(key, v, at));
    const latest = await deps.experiments.getVersion(TEAM, key, 'checkpoints');
    const n = (await deps.experiments.listVersions(TEAM, key, 'checkpoints')).length;
    if (latest?.version !== perExperiment || n !== perExperiment) {
      throw new Error(`${backend}: ${key} holds ${n} versions, latest ${latest?.version}`);
    }
  });
  const buildSeconds = seconds(t0);
  await setRetention(deps, admin, TEAM, { project: null, keepLast: KEEP_LAST });
  const o = { project: null, rules: null };

  let t = performance.now();
  const dry: RetentionReport = await runRetention(deps, TEAM, { ...o, dryRun: true }, null);
  const dryRunSeconds = seconds(t);
  const before = { ...fsCount };
  t = performance.now();
  const report = await runRetention(deps, TEAM, { ...o, dryRun: false }, admin);
  const applySeconds = seconds(t);
  const used = {
    writes: fsCount.writes - before.writes,
    commits: fsCount.commits - before.commits,
    reads: fsCount.reads - before.reads,
  };
  const readsBeforeIdle = fsCount.reads;
  t = performance.now();
  const idle = await runRetention(deps, TEAM, { ...o, dryRun: false }, admin);
  const idleApplySeconds = seconds(t);
  const idleReads = fsCount.reads - readsBeforeIdle;

  const want = experiments * (perExperiment - KEEP_LAST);
  if (dry.versionsDeleted !== want || report.versionsDeleted !== want || idle.versionsDeleted !== 0) {
    throw new Error(
      `${backend}: expected ${want} deletions, got dry ${dry.versionsDeleted}, apply ${report.versionsDeleted}, idle ${idle.versionsDeleted}`,
    );
  }
  const left = await deps.experiments.listVersions(TEAM, 'exp-0000', 'checkpoints');
  if (
    left.map((v) => v.version).join() !==
    Array.from({ length: KEEP_LAST }, (_, i) => perExperiment - KEEP_LAST + 1 + i).join()
  ) {
    throw new Error(`${backend}: exp-0000 kept ${left.map((v) => v.version).join(',')}`);
  }
  return {
    backend,
    experiments,
    versions: experiments * perExperiment,
    buildSeconds,
    dryRunSeconds,
    applySeconds,
    deleted: report.versionsDeleted,
    deletedPerSecond: report.versionsDeleted / applySeconds,
    idleApplySeconds,
    ...(backend === 'firestore'
      ? {
          firestore: {
            ...used,
            writesPerDeleted: used.writes / report.versionsDeleted,
            readsPerDeleted: used.reads / report.versionsDeleted,
            idleReads,
          },
        }
      : {}),
  };
}

async function sqlite(): Promise<Result> {
  const work = await mkdtemp(join(tmpdir(), 'sl-retention-bench-'));
  const backend = openLocalBackend(join(work, 'home'), { publicUrl: () => 'http://127.0.0.1:9' });
  try {
    return await measure('sqlite', backend.deps, 1);
  } finally {
    await backend.close();
    await rm(work, { recursive: true, force: true });
  }
}

async function firestore(): Promise<Result | string> {
  process.env.METADATA_SERVER_DETECTION ??= 'none';
  let stop = async () => {};
  if (!process.env.FIRESTORE_EMULATOR_HOST) {
    try {
      const emu = await startFirestoreEmulator();
      process.env.FIRESTORE_EMULATOR_HOST = emu.host;
      stop = () => emu.stop();
    } catch (err) {
      return `skipped: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  const projectId = `demo-retention-bench-${process.pid}`;
  const loader = new Firestore({ projectId, ignoreUndefinedProperties: true });
  try {
    countFirestore();
    const deps = openGcpBackend(readGcpConfig({ GOOGLE_CLOUD_PROJECT: projectId, STUDIO_BUCKET: 'bkt-unused' }));
    // commitVersion is a read and a commit per version (~70 a second on the emulator of a loaded 2-core box): the
    // bench writes versions 2.. as the adapter lays them out (firestore-experiment-store.ts), 500 to a batch, then
    // moves the artifact's latest; measure() checks the result through the port.
    const bulk = async (key: string, versions: CommitVersionInput[]) => {
      const art = teamCollection(loader, TEAM, 'experiments').doc(key).collection('artifacts').doc('checkpoints');
      const records = versions.map((input, i) => versionFromCommit(input, i + 2));
      for (let i = 0; i < records.length; i += 500) {
        const batch = loader.batch();
        for (const r of records.slice(i, i + 500)) {
          batch.create(art.collection('versions').doc(String(r.version).padStart(9, '0')), r);
        }
        await batch.commit();
      }
      const last = records[records.length - 1];
      if (last) await art.update({ latestVersion: last.version, latestDigest: last.digest, updatedAt: last.createdAt });
    };
    return await measure('firestore', deps, 4, bulk);
  } finally {
    await loader.terminate();
    await fetch(
      `http://${process.env.FIRESTORE_EMULATOR_HOST}/emulator/v1/projects/${projectId}/databases/(default)/documents`,
      { method: 'DELETE' },
    ).catch(() => {});
    await stop();
  }
}

async function main() {
  const load = loadavg().map((x) => x.toFixed(2));
  const results: (Result | string)[] = [await sqlite(), await firestore()];
  const f = (n: number) => (Number.isInteger(n) ? String(n) : n.toFixed(n < 10 ? 3 : 0));
  process.stdout.write(
    `studio-lite retention bench (scale ${scale}, ${new Date().toISOString()}, ${cpus().length} CPUs, ` +
      `load ${load.join(' ')}): ${experiments} experiments × ${perExperiment} versions, keepLast ${KEEP_LAST}\n`,
  );
  for (const r of results) {
    if (typeof r === 'string') {
      process.stdout.write(`firestore: ${r}\n`);
      continue;
    }
    process.stdout.write(
      `${r.backend}: build ${f(r.versions)} versions ${f(r.buildSeconds)} s; dry run ${f(r.dryRunSeconds)} s; ` +
        `apply ${f(r.deleted)} deletions ${f(r.applySeconds)} s (${f(r.deletedPerSecond)}/s); idle apply ${f(r.idleApplySeconds)} s\n`,
    );
    if (r.firestore) {
      process.stdout.write(
        `  firestore writes ${f(r.firestore.writes)} (${f(r.firestore.writesPerDeleted)} per deleted version) in ` +
          `${f(r.firestore.commits)} commits; documents read ${f(r.firestore.reads)} (${f(r.firestore.readsPerDeleted)} per deleted version); idle apply read ${f(r.firestore.idleReads)}\n`,
      );
    }
  }
  await mkdir('.tmp', { recursive: true });
  await writeFile(
    '.tmp/retention-bench.json',
    JSON.stringify({ scale, load, experiments, perExperiment, keepLast: KEEP_LAST, results }, null, 2),
  );
}

await main();
