// Start-up cost of the CLI against a bare `node -e ''`: `--version`, `experiments` on an empty home, and
// `run -- true`. Runs are interleaved (one of each per round) so machine load hits all alike; medians reported.
// Usage: npm run build && node bench/cli-startup-bench.mjs [rounds]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const bin = fileURLToPath(new URL('../cli/bin/studio-lite.js', import.meta.url));
const rounds = Number(process.argv[2] ?? 11);

function time(args, env, cwd) {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, args, { env, cwd, stdio: 'ignore' });
  if (r.status !== 0) throw new Error(`${args.join(' ')} exited ${r.status}`);
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

const cases = {
  "node -e ''": () => time(['-e', ''], process.env),
  'studio-lite --version': () => time([bin, '--version'], process.env),
  'studio-lite experiments (empty home)': () => {
    const home = mkdtempSync(join(tmpdir(), 'sl-bench-home-'));
    try {
      return time([bin, 'experiments'], { ...process.env, STUDIOML_HOME: home });
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  },
  'studio-lite run -- true': () => {
    const home = mkdtempSync(join(tmpdir(), 'sl-bench-home-'));
    const cwd = mkdtempSync(join(tmpdir(), 'sl-bench-cwd-'));
    try {
      return time([bin, 'run', '-q', '--', 'true'], { ...process.env, STUDIOML_HOME: home }, cwd);
    } finally {
      rmSync(home, { recursive: true, force: true });
      rmSync(cwd, { recursive: true, force: true });
    }
  },
};

const samples = Object.fromEntries(Object.keys(cases).map((k) => [k, []]));
for (let i = 0; i < rounds; i += 1) for (const [k, f] of Object.entries(cases)) samples[k].push(f());
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const node = median(samples["node -e ''"]);
console.log(`| command | median (${rounds} runs) | vs node -e '' |`);
console.log('| --- | --- | --- |');
for (const [k, xs] of Object.entries(samples)) {
  const m = median(xs);
  console.log(`| \`${k}\` | ${m.toFixed(0)} ms | ${(m / node).toFixed(1)}x |`);
}
