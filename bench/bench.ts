/**
 * `npm run bench`: studio-lite's capture and pull against baselines measured in the same process on the same disk
 * (cp -r; Studio's way = tar czf + one HTTP PUT). Prints a table of seconds and ratios and writes .tmp/bench.json.
 * Sizes can be scaled down for a smoke run with BENCH_SCALE=0.05.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Capturer } from '../cli/src/artifacts/capture-artifact.ts';
import { fetchArtifact } from '../cli/src/artifacts/fetch-artifact.ts';
import { loadConfig } from '../cli/src/config.ts';
import { connect } from '../cli/src/connect.ts';
import { createLogger } from '../cli/src/logger.ts';
// @ts-expect-error plain ESM helper without types
import { cpR, makeDatasetA, makeDatasetB, startSinkServer, studioWay } from './baselines.mjs';
import { finishExperiment, openExperiment } from './open-experiment.ts';

const scale = Number(process.env.BENCH_SCALE ?? 1);
/** Each timing is the median of this many runs (Studio's tar.gz way runs once: it is slow and far off). */
const runs = Number(process.env.BENCH_RUNS ?? 3);

/** Every sample, by label, written to .tmp/bench.json so the spread is visible next to the medians. */
const samples: Record<string, number[]> = {};
async function median(label: string, fn: () => Promise<number>): Promise<number> {
  const xs: number[] = [];
  for (let i = 0; i < runs; i += 1) xs.push(await fn());
  samples[label] = [...xs];
  xs.sort((a, b) => a - b);
  return xs[Math.floor(xs.length / 2)] as number;
}
const GiB = 1024 ** 3;
const log = createLogger({ quiet: true });
const now = () => performance.now() / 1000;
/** Flush dirty pages before each timed step, so one step's writeback (or a previous rm -rf) does not bill the next. */
const settle = () => execFileSync('sync');

/**
 * The floor for any verified content-addressed store on this machine: read every file once, sha256 it, write it
 * to a new file (one pass, one thread, no network). cp -r skips all three user-space passes (copy_file_range).
 */
async function hashCopyFloor(src: string, dst: string): Promise<number> {
  const { createHash } = await import('node:crypto');
  const { readdir, readFile } = await import('node:fs/promises');
  const { writeFileSync, mkdirSync } = await import('node:fs');
  const t = now();
  // The same 256-way fan-out as the blob store, so the folder sizes match.
  for (let i = 0; i < 256; i += 1) mkdirSync(join(dst, i.toString(16).padStart(2, '0')), { recursive: true });
  for (const e of await readdir(src, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const data = await readFile(join(e.parentPath, e.name));
    const h = createHash('sha256').update(data).digest('hex');
    writeFileSync(join(dst, h.slice(0, 2), h), data);
  }
  return now() - t;
}

/**
 * `sha256sum` of every file of `dir`, one process, files in name order (issue 15: a first capture of (a) is measured
 * against it). coreutils hashes on one core, without the SHA extensions node:crypto's OpenSSL uses where present.
 */
async function sha256sumAll(dir: string): Promise<number> {
  const { readdir } = await import('node:fs/promises');
  const files = (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name))
    .sort();
  const t = now();
  execFileSync('sha256sum', files, { stdio: ['ignore', 'ignore', 'inherit'] });
  return now() - t;
}

async function withHome<T>(fn: (home: string) => Promise<T>): Promise<T> {
  const home = await mkdtemp(join(tmpdir(), 'sl-bench-home-'));
  try {
    return await fn(home);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
}

/** One experiment on a fresh embedded backend; returns timings of the captures `fn` asks for. */
async function session<T>(
  home: string,
  fn: (s: {
    capture(path: string, tag: string): Promise<number>;
    fetch(tag: string, dest: string): Promise<number>;
  }) => Promise<T>,
) {
  const cfg = { ...(await loadConfig(undefined, { STUDIOML_HOME: home })), home };
  const conn = await connect(cfg);
  try {
    await openExperiment(conn.client, 'bench');
    const cap = new Capturer(conn.client, 'bench', cfg, log, []);
    try {
      return await fn({
        async capture(path, tag) {
          settle();
          const t = now();
          await cap.capture({ tag, path, mutable: true, useIgnoreFile: false });
          return now() - t;
        },
        async fetch(tag, dest) {
          settle();
          const t = now();
          await fetchArtifact(conn.client, cfg, { experiment: 'bench', tag }, dest, { mode: 'link', log });
          return now() - t;
        },
      });
    } finally {
      cap.close();
      await finishExperiment(conn.client, 'bench');
    }
  } finally {
    await conn.close();
  }
}

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'sl-bench-'));
  const sink = await startSinkServer();
  const rows: { name: string; seconds: number; baseline?: string; ratio?: number; target?: string; ok?: boolean }[] =
    [];
  try {
    const a = join(work, 'a');
    const b = join(work, 'b');
    await makeDatasetA(a, { totalBytes: Math.round(GiB * scale) });
    await makeDatasetB(b, { files: Math.round(20_000 * scale) });

    for (const [name, dir, target] of [
      ['a', a, 2],
      ['b', b, 4],
    ] as const) {
      // Paired runs: cp -r, the floor and a first capture take turns, so each ratio compares neighbours that saw
      // the same state of this VM's disk (its metadata path varies several-fold over minutes).
      const cps: number[] = [];
      const floors: number[] = [];
      const firsts: number[] = [];
      const ratios: number[] = [];
      // (a) only: sha256sum of the same files in the same round, and each first capture's ratio to it.
      const sums: number[] = [];
      const sumRatios: number[] = [];
      for (let i = 0; i < runs; i += 1) {
        settle();
        const c = await cpR(dir, join(work, `${name}-cp`));
        await rm(join(work, `${name}-cp`), { recursive: true, force: true });
        settle();
        const f = await hashCopyFloor(dir, join(work, `${name}-floor`));
        await rm(join(work, `${name}-floor`), { recursive: true, force: true });
        let sum: number | undefined;
        if (name === 'a') {
          settle();
          sum = await sha256sumAll(dir);
        }
        const x = await withHome((home) => session(home, (s) => s.capture(dir, name)));
        cps.push(c);
        floors.push(f);
        firsts.push(x);
        ratios.push(x / c);
        if (sum !== undefined) {
          sums.push(sum);
          sumRatios.push(x / sum);
        }
      }
      samples[`cp -r (${name})`] = cps;
      samples[`floor (${name})`] = floors;
      samples[`first capture (${name})`] = firsts;
      samples[`first capture / cp -r (${name}), paired`] = ratios;
      if (sums.length > 0) {
        samples[`sha256sum (${name})`] = sums;
        samples[`first capture / sha256sum (${name}), paired`] = sumRatios;
      }
      const mid = (xs: number[]) => [...xs].sort((p, q) => p - q)[Math.floor(xs.length / 2)] as number;
      const cp = mid(cps);
      const floor = mid(floors);
      const first = mid(firsts);
      const pairedRatio = mid(ratios);
      settle();
      const studio = await studioWay(dir, sink.url);
      rows.push({ name: `cp -r (${name})`, seconds: cp });
      rows.push({ name: `Studio tar czf + PUT (${name})`, seconds: studio });
      rows.push({ name: `read+sha256+write floor (${name})`, seconds: floor });
      rows.push({
        name: `first capture (${name}) vs floor`,
        seconds: first,
        baseline: 'floor',
        ratio: first / floor,
        target: 'report',
      });
      rows.push({
        name: `first capture (${name})`,
        seconds: first,
        baseline: 'cp -r (median of paired ratios)',
        ratio: pairedRatio,
        target: `<= ${target}x cp -r`,
        ok: pairedRatio <= target,
      });
      if (sums.length > 0) {
        const sumRatio = mid(sumRatios);
        rows.push({ name: `sha256sum (${name})`, seconds: mid(sums) });
        rows.push({
          name: `first capture (${name}) vs sha256sum`,
          seconds: first,
          baseline: 'sha256sum (median of paired ratios)',
          ratio: sumRatio,
          target: '<= 1.5x sha256sum',
          ok: sumRatio <= 1.5,
        });
      }
      rows.push({
        name: `first capture (${name}) vs Studio`,
        seconds: first,
        baseline: 'Studio',
        ratio: studio / first,
        target: name === 'a' ? '>= 3x faster' : 'report',
        ok: name === 'a' ? studio / first >= 3 : undefined,
      });
    }

    await withHome(async (home) => {
      await session(home, async (s) => {
        await s.capture(b, 'b');
        const same = await median('re-capture same run', () => s.capture(b, 'b'));
        rows.push({ name: 'no-change re-capture (b), same run', seconds: same, target: '< 0.5 s', ok: same < 0.5 });
      });
      // A new process: the stat cache on disk vouches for every file, the API answers "unchanged".
      await session(home, async (s) => {
        const again = await median('re-capture new run', () => s.capture(b, 'b'));
        rows.push({ name: 'no-change re-capture (b), new run', seconds: again, target: '< 0.5 s', ok: again < 0.5 });
      });
    });

    await withHome(async (home) => {
      await session(home, async (s) => {
        await s.capture(a, 'a');
        // Cold: empty blob cache. Warm: every blob cached, the pull only links (opt-in mode; pull-bench.ts has copies).
        let i = 0;
        const cold = await median('pull cold', async () => {
          await rm(join(home, 'blobcache'), { recursive: true, force: true });
          i += 1;
          return s.fetch('a', join(work, `pull-cold-${i}`));
        });
        const warm = await median('pull warm', async () => {
          i += 1;
          return s.fetch('a', join(work, `pull-warm-${i}`));
        });
        rows.push({ name: 'pull (a), cold cache (links)', seconds: cold });
        rows.push({
          name: 'pull (a), warm cache (links)',
          seconds: warm,
          baseline: 'cold pull',
          ratio: cold / warm,
          target: '>= 10x faster',
          ok: cold / warm >= 10,
        });
      });
    });
  } finally {
    await sink.close();
    await rm(work, { recursive: true, force: true });
  }
  const fmt = (n: number) => n.toFixed(3);
  process.stdout.write(
    `studio-lite bench (scale ${scale}, median of ${runs}, warm page cache, ${new Date().toISOString()})\n`,
  );
  for (const r of rows) {
    const ratio = r.ratio === undefined ? '' : `  ratio ${r.ratio.toFixed(2)} vs ${r.baseline}`;
    const verdict = r.ok === undefined ? '' : r.ok ? '  [target met]' : '  [TARGET MISSED]';
    process.stdout.write(
      `${r.name.padEnd(40)} ${fmt(r.seconds).padStart(8)} s${ratio}${r.target ? `  (${r.target})` : ''}${verdict}\n`,
    );
  }
  await mkdir('.tmp', { recursive: true });
  await writeFile('.tmp/bench.json', JSON.stringify({ scale, runs, rows, samples }, null, 2));
}

await main();
