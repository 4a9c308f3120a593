/**
 * `npm run bench:gc` (also the last part of `npm run bench`): blob garbage collection on the embedded backend, against
 * `rm -rf` of the same blob files measured in the same process on the same disk.
 *
 * A team holds two experiments: `keep` (dataset (b): 20,000 files of 4 KiB, captured as V versions of a mutable
 * artifact whose content changes slightly each time) and `drop` (another 20,000 files). `drop` is deleted, then:
 * - idle run: nothing to free yet except `drop` (condemns its 20,000 blobs): mark + sweep + condemn;
 * - delete run (after the grace): compare-and-set, unlink and record delete of each condemned blob;
 * - baseline: `rm -rf` of a copy of exactly the files the delete run removes.
 * Sizes scale with BENCH_SCALE.
 */
import { execFileSync } from 'node:child_process';
import { cp, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { GcReport } from '@studio-lite/functions/contract';
import { Capturer } from '../cli/src/artifacts/capture-artifact.ts';
import { loadConfig } from '../cli/src/config.ts';
import { connect } from '../cli/src/connect.ts';
import { createLogger } from '../cli/src/logger.ts';
// @ts-expect-error plain ESM helper without types
import { makeDatasetB } from './baselines.mjs';
import { finishExperiment, openExperiment } from './open-experiment.ts';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const files = Math.max(100, Math.round(20_000 * scale));
const versions = Number(process.env.BENCH_GC_VERSIONS ?? 20);
const log = createLogger({ quiet: true });
const now = () => performance.now() / 1000;
const settle = () => execFileSync('sync');

async function main() {
  // The grace floor is one hour in production; the bench waits out a grace of 1 s instead.
  process.env.STUDIOML_GC_MIN_GRACE_SECONDS = '0';
  const work = await mkdtemp(join(tmpdir(), 'sl-gc-bench-'));
  const home = join(work, 'home');
  const keepDir = join(work, 'keep');
  const dropDir = join(work, 'drop');
  await makeDatasetB(keepDir, { files });
  await makeDatasetB(dropDir, { files });
  const cfg = { ...(await loadConfig(undefined, { STUDIOML_HOME: home })), home };
  const conn = await connect(cfg);
  const out: Record<string, number | string> = { files, versions };
  try {
    const capture = async (key: string, dir: string, n: number) => {
      await openExperiment(conn.client, key);
      const cap = new Capturer(conn.client, key, cfg, log, []);
      try {
        for (let v = 0; v < n; v += 1) {
          if (v > 0) await writeFile(join(dir, 'd000', 'changing.txt'), `version ${v}\n`);
          await cap.capture({ tag: 'data', path: dir, mutable: true, useIgnoreFile: false });
        }
      } finally {
        cap.close();
        await finishExperiment(conn.client, key);
      }
    };
    await capture('keep', keepDir, versions);
    await capture('drop', dropDir, 1);
    await conn.client.deleteExperiment('drop', true);

    const gc = async (): Promise<{ seconds: number; r: GcReport }> => {
      settle();
      const t = now();
      const { gc: r } = await conn.client.collectGarbage({ graceSeconds: 1 });
      return { seconds: now() - t, r };
    };
    const first = await gc();
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(first.r.startedAt) + 1100 - Date.now())));

    // Baseline: a copy of exactly the blob files the delete run will remove, then rm -rf of it.
    const blobs = join(home, 'store', 'teams', 'local', 'blobs', 'sha256');
    const stored = new Set(
      (await readdir(blobs, { recursive: true, withFileTypes: true }))
        .filter((e) => e.isFile())
        .map((e) => join(e.parentPath, e.name)),
    );
    const copy = join(work, 'rm-copy');
    await mkdir(copy);
    // Copies every blob folder; the files of `keep` are removed from the copy first, so rm -rf deletes as many
    // files as the gc run (the condemned ones), in the same 256 folders.
    await cp(blobs, copy, { recursive: true });
    const keepShas = new Set<string>();
    const { artifacts } = await conn.client.showExperiment('keep');
    for (const a of artifacts) {
      for (let v = 1; v <= a.latestVersion; v += 1) {
        const { version } = await conn.client.getVersion('keep', a.tag, v);
        keepShas.add(version.manifestSha256);
        for (const f of version.manifest.files) keepShas.add(f.sha256);
      }
    }
    let removedFromCopy = 0;
    for (const f of stored) {
      const sha = f.slice(f.lastIndexOf('/') + 1);
      if (keepShas.has(sha)) {
        await rm(join(copy, sha.slice(0, 2), sha));
        removedFromCopy += 1;
      }
    }
    settle();
    const tr = now();
    execFileSync('rm', ['-rf', copy]);
    const rmSeconds = now() - tr;

    const second = await gc();
    const idle = await gc();
    out.referencedBlobs = first.r.referenced.blobs;
    out.versionsMarked = first.r.versions;
    out.condemnRun = first.seconds;
    out.condemned = first.r.condemned.blobs;
    out.deleteRun = second.seconds;
    out.deleted = second.r.deleted.blobs;
    out.deletedBytes = second.r.deleted.bytes;
    out.idleRun = idle.seconds;
    out.rmRf = rmSeconds;
    out.rmRfFiles = stored.size - removedFromCopy;
    out.deleteVsRm = second.seconds / rmSeconds;
    if (second.r.deleted.blobs !== first.r.condemned.blobs)
      throw new Error('the delete run did not free every condemned blob');
  } finally {
    await conn.close();
    await rm(work, { recursive: true, force: true });
  }
  const f = (n: unknown) => (typeof n === 'number' ? (Number.isInteger(n) ? String(n) : n.toFixed(3)) : String(n));
  process.stdout.write(`studio-lite gc bench (scale ${scale}, ${new Date().toISOString()})\n`);
  process.stdout.write(
    `mark ${f(out.versionsMarked)} versions / ${f(out.referencedBlobs)} referenced blobs, condemn ${f(out.condemned)}: ${f(out.condemnRun)} s\n` +
      `delete run: ${f(out.deleted)} blobs (${f(out.deletedBytes)} B) in ${f(out.deleteRun)} s; rm -rf of the same ${f(out.rmRfFiles)} files: ${f(out.rmRf)} s; ratio ${f(out.deleteVsRm)}\n` +
      `idle run (nothing to free): ${f(out.idleRun)} s\n`,
  );
  await mkdir('.tmp', { recursive: true });
  await writeFile('.tmp/gc-bench.json', JSON.stringify(out, null, 2));
}

await main();
