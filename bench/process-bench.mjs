// `npm run bench` (part): the CLI as a user times it, whole processes, against the tools a user would compare it
// with, run in the same round on the same disk (issue 15's targets):
//   - first capture of 20,000 x 4 KiB in 100 folders: `studio-lite run -q --capture-once=DIR:data -- true` into a
//     fresh home vs `restic backup DIR` into a fresh repository and `tar czf` of DIR;
//   - the same capture again in a new process (stat cache warm, nothing new) vs `restic backup` with a parent;
//   - cold pull (empty blob cache) of those files vs `tar xzf`; warm pull (cache full) vs the cold one;
//   - first capture of 1 GiB in 16 files vs `sha256sum` of those files.
// Each figure is the median of BENCH_RUNS rounds (default 3); every timed step starts after `sync`, so the previous
// step's writeback is not billed to it. restic comes from Debian (`apt-get install restic`); where it is missing
// its rows say so and the ratios against it are left out. BENCH_SCALE scales the datasets (smoke runs).
// Usage: npm run build && node bench/process-bench.mjs
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeDatasetA, makeDatasetB } from './baselines.mjs';
import { bin, has, runs, samples, scale, scratch, timed } from './process-helpers.mjs';

const { root, fresh } = scratch('sl-process-bench-');
const restic = has('restic');

const sl = (home, args, cwd) =>
  timed(process.execPath, [bin, ...args], { cwd, env: { ...process.env, STUDIOML_HOME: home } });

const s = samples();
const add = s.add;

const files = Math.max(100, Math.round(20_000 * scale));
const small = join(root, 'small');
await makeDatasetB(small, { files, fileSize: 4096, folders: 100 });
const big = join(root, 'big');
await makeDatasetA(big, { totalBytes: Math.round(1024 ** 3 * scale), files: 16 });
const resticEnv = { ...process.env, RESTIC_PASSWORD: 'bench' };

for (let i = 0; i < runs; i += 1) {
  // Run from an empty folder: the workspace artifact (the cwd) then holds nothing, as when a user captures a
  // dataset that lives elsewhere.
  const cwd = fresh('cwd');
  // Large files first, before this round creates and deletes tens of thousands of small files: on this VM's ext4
  // (mounted with `discard`) that churn slowed the next 1 GiB durable write 4x (11 s instead of 2.5-3.7 s), which
  // measured the disk, not the capture. Against reading and hashing them once.
  add(
    'capture 1 GiB',
    sl(fresh('home'), ['run', '-q', '-e', `big${i}`, `--capture-once=${big}:data`, '--', 'true'], cwd),
  );
  add('sha256sum 1 GiB', timed('sh', ['-c', `sha256sum ${big}/* > /dev/null`]));
  // Small files: first capture, no-change capture, cold and warm pull.
  const home = fresh('home');
  add('capture', sl(home, ['run', '-q', '-e', `cap${i}`, `--capture-once=${small}:data`, '--', 'true'], cwd));
  add('capture again', sl(home, ['run', '-q', '-e', `again${i}`, `--capture-once=${small}:data`, '--', 'true'], cwd));
  rmSync(join(home, 'blobcache'), { recursive: true, force: true });
  add('cold pull', sl(home, ['pull', '-q', `cap${i}/data`, '-o', join(fresh('pull'), 'out')], cwd));
  add('warm pull', sl(home, ['pull', '-q', `cap${i}/data`, '-o', join(fresh('pull'), 'out')], cwd));
  // Baselines.
  const tgz = join(fresh('tar'), 'small.tgz');
  add('tar czf', timed('tar', ['czf', tgz, '-C', root, 'small']));
  add('tar xzf', timed('tar', ['xzf', tgz, '-C', fresh('untar')]));
  if (restic) {
    const repo = join(fresh('restic'), 'repo');
    execFileSync('restic', ['init', '-q', '-r', repo], { env: resticEnv });
    add('restic backup', timed('restic', ['-q', '-r', repo, 'backup', small], { env: resticEnv }));
    add('restic backup again', timed('restic', ['-q', '-r', repo, 'backup', small], { env: resticEnv }));
  }
  // Nothing is deleted between rounds (see above): all of it goes at the end.
}

const bigLabel = scale === 1 ? '1 GiB' : `${Math.round(1024 * scale)} MiB`;
const m = s.medians();
const ratio = (a, b) => (m[a] !== undefined && m[b] !== undefined ? `${(m[a] / m[b]).toFixed(2)}x` : 'n/a');
const rows = [
  [`first capture, ${files} x 4 KiB`, 'capture', 'restic backup', '<= 1.0x', 'tar czf', '<= 1.0x'],
  ['no-change capture, new process', 'capture again', 'restic backup again', '<= 1.0x, < 0.5 s'],
  ['cold pull', 'cold pull', 'tar xzf', '<= 1.5x'],
  ['warm pull', 'warm pull', 'cold pull', '<= 0.1x'],
  [`first capture, ${bigLabel} in 16 files`, 'capture 1 GiB', 'sha256sum 1 GiB', '<= 1.5x'],
];
console.log(
  `process bench (scale ${scale}, median of ${runs}; restic ${restic ? 'installed' : 'MISSING: apt-get install restic'})`,
);
console.log('| what | seconds | baseline | baseline s | ratio | target |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const [what, k, b1, t1, b2, t2] of rows) {
  const line = (b, t) =>
    `| ${what} | ${m[k]?.toFixed(2)} | ${b} | ${m[b]?.toFixed(2) ?? 'missing'} | ${ratio(k, b)} | ${t} |`;
  console.log(line(b1, t1));
  if (b2) console.log(line(b2, t2));
}
mkdirSync(fileURLToPath(new URL('../.tmp/', import.meta.url)), { recursive: true });
writeFileSync(
  fileURLToPath(new URL('../.tmp/process-bench.json', import.meta.url)),
  JSON.stringify({ scale, runs, restic, files, medians: m, samples: s.all }, null, 2),
);
rmSync(root, { recursive: true, force: true });
