/**
 * `npm run bench` (part): what handing out the user's own files costs. Pull of dataset A (1 GiB) with copies (the
 * default; clones where the file system can) vs hard links (opt-in) vs `cp -r`, and on dataset B (20,000 small files)
 * cold vs warm pulls plus the cache check alone: with recorded stats (every warm pull) and without (an entry that
 * moved is re-hashed). Writes .tmp/pull-bench.json. BENCH_SCALE / BENCH_RUNS as for bench.ts.
 */
import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Capturer } from '../cli/src/artifacts/capture-artifact.ts';
import { fetchArtifact } from '../cli/src/artifacts/fetch-artifact.ts';
import { BlobCache } from '../cli/src/cache/blob-cache.ts';
import type { MaterializeMode } from '../cli/src/cache/materialize.ts';
import { verifyEntries } from '../cli/src/cache/verify-entries.ts';
import { loadConfig } from '../cli/src/config.ts';
import { connect } from '../cli/src/connect.ts';
import { createLogger } from '../cli/src/logger.ts';
// @ts-expect-error plain ESM helper without types
import { cpR, makeDatasetA, makeDatasetB } from './baselines.mjs';
import { finishExperiment, openExperiment } from './open-experiment.ts';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const runs = Number(process.env.BENCH_RUNS ?? 3);
const GiB = 1024 ** 3;
const log = createLogger({ quiet: true });
const now = () => performance.now() / 1000;
const settle = () => execFileSync('sync');
const samples: Record<string, number[]> = {};

/** Median of `runs` timings of `fn`; `after` cleans up outside the measurement. */
async function median(label: string, fn: (i: number) => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i += 1) xs.push(await fn(i));
  samples[label] = [...xs];
  return [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'sl-pull-bench-'));
  const home = join(work, 'home');
  const rows: { name: string; seconds: number; note?: string }[] = [];
  const cfg = { ...(await loadConfig(undefined, { STUDIOML_HOME: home })), home };
  const conn = await connect(cfg);
  const cache = new BlobCache(join(home, 'blobcache'));
  try {
    const a = join(work, 'a');
    const b = join(work, 'b');
    await makeDatasetA(a, { totalBytes: Math.round(GiB * scale) });
    await makeDatasetB(b, { files: Math.round(20_000 * scale) });
    await openExperiment(conn.client, 'bench');
    const cap = new Capturer(conn.client, 'bench', cfg, log, []);
    try {
      await cap.capture({ tag: 'a', path: a, mutable: true, useIgnoreFile: false });
      await cap.capture({ tag: 'b', path: b, mutable: true, useIgnoreFile: false });
    } finally {
      cap.close();
      await finishExperiment(conn.client, 'bench');
    }
    const pull = async (tag: string, mode: MaterializeMode, dest: string) => {
      settle();
      const t = now();
      await fetchArtifact(conn.client, cfg, { experiment: 'bench', tag }, dest, { mode, log });
      return now() - t;
    };
    const out = (name: string) => join(work, name);
    const drop = (p: string) => rm(p, { recursive: true, force: true });

    for (const [tag, dir] of [
      ['a', a],
      ['b', b],
    ] as const) {
      const cp = await median(`cp -r (${tag})`, async () => {
        settle();
        const s = await cpR(dir, out('cp'));
        await drop(out('cp'));
        return s;
      });
      const cold = await median(`pull cold, copy (${tag})`, async () => {
        await drop(join(home, 'blobcache'));
        const s = await pull(tag, 'copy', out('cold'));
        await drop(out('cold'));
        return s;
      });
      const warmCopy = await median(`pull warm, copy (${tag})`, async () => {
        const s = await pull(tag, 'copy', out('warm'));
        await drop(out('warm'));
        return s;
      });
      const warmLink = await median(`pull warm, link (${tag})`, async () => {
        const s = await pull(tag, 'link', out('link'));
        await drop(out('link'));
        return s;
      });
      rows.push({ name: `cp -r (${tag})`, seconds: cp });
      rows.push({ name: `pull (${tag}) cold, copy`, seconds: cold });
      rows.push({
        name: `pull (${tag}) warm, copy`,
        seconds: warmCopy,
        note: `${(cold / warmCopy).toFixed(1)}x faster than cold, ${(warmCopy / cp).toFixed(2)}x cp -r`,
      });
      rows.push({
        name: `pull (${tag}) warm, link`,
        seconds: warmLink,
        note: `${(cold / warmLink).toFixed(1)}x faster than cold, ${(warmLink / cp).toFixed(2)}x cp -r`,
      });
    }

    // The check alone, on B's 20,000 entries: what every warm pull pays, against a bare lstat of each (the
    // size-only check it replaced) and against re-hashing everything (entries whose stat moved, or no records).
    const { version } = await conn.client.getVersion('bench', 'b', 'latest');
    const wanted = new Map(version.manifest.files.map((f) => [f.sha256, f.size]));
    const lstatOnly = await median('lstat only (b)', async () => {
      const t = now();
      await Promise.all([...wanted.keys()].map((s) => lstat(cache.path(s))));
      return now() - t;
    });
    // Removing the link-mode folders above moved every entry's ctime (link count): the first check re-hashes them.
    const afterLinks = await verifyEntries(cache, wanted);
    let rehashedWhenRecorded = 0;
    const recorded = await median('cache check, recorded (b)', async () => {
      const t = now();
      rehashedWhenRecorded += (await verifyEntries(cache, wanted)).rehashed;
      return now() - t;
    });
    if (rehashedWhenRecorded > 0) throw new Error(`${rehashedWhenRecorded} recorded entries were re-hashed`);
    const rehash = await median('cache check, no records (b)', async () => {
      cache.stats.delete([...wanted.keys()]);
      const t = now();
      await verifyEntries(cache, wanted);
      return now() - t;
    });
    rows.push({ name: `cache check (b, ${wanted.size} entries): lstat only`, seconds: lstatOnly, note: 'old check' });
    rows.push({ name: `cache check (b): stat + record lookup`, seconds: recorded, note: 'every warm pull' });
    rows.push({ name: `cache check (b): re-hash all`, seconds: rehash, note: 'entries whose stat moved' });
    rows.push({
      name: 'entries re-hashed after rm -r of link pulls',
      seconds: 0,
      note: `${afterLinks.rehashed} of ${wanted.size} (unlink moves the ctime; copies never touch the cache)`,
    });
  } finally {
    cache.stats.close();
    await conn.close();
    await rm(work, { recursive: true, force: true });
  }
  process.stdout.write(`studio-lite pull bench (scale ${scale}, median of ${runs}, ${new Date().toISOString()})\n`);
  for (const r of rows) {
    process.stdout.write(`${r.name.padEnd(44)} ${r.seconds.toFixed(3).padStart(8)} s${r.note ? `  ${r.note}` : ''}\n`);
  }
  await mkdir('.tmp', { recursive: true });
  await writeFile('.tmp/pull-bench.json', JSON.stringify({ scale, runs, rows, samples }, null, 2));
}

await main();
