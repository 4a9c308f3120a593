// `npm run bench` must keep working: each bench bundle runs end to end at a tiny scale (its figures are not checked
// here: performance is measured by the bench itself, never in tests). The capture, pull and GC benches were broken
// for a while without any test noticing (they registered with `resume` on a fresh home, which is refused).
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { REPO } from './helpers.ts';

const run = promisify(execFile);

describe('npm run bench at a tiny scale', () => {
  for (const bench of ['bench', 'pull-bench', 'gc-bench']) {
    it(`${bench} runs to the end and prints its table`, async () => {
      const tmp = await mkdtemp(join(tmpdir(), 'sl-bench-smoke-'));
      try {
        const { stdout } = await run(process.execPath, [join(REPO, 'cli', 'dist', `${bench}.js`)], {
          cwd: tmp,
          env: { ...process.env, BENCH_SCALE: '0.01', BENCH_RUNS: '1', TMPDIR: tmp },
          maxBuffer: 16 * 1024 * 1024,
        });
        expect(stdout).toMatch(/\d/);
      } finally {
        await rm(tmp, { recursive: true, force: true });
      }
    }, 120_000);
  }

  it('retention-bench (keepLast 10 over every version; Firestore half when the emulator can start) runs to the end', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'sl-bench-smoke-'));
    try {
      const { stdout } = await run(process.execPath, [join(REPO, 'cli', 'dist', 'retention-bench.js')], {
        cwd: tmp,
        env: { ...process.env, BENCH_SCALE: '0.01', TMPDIR: tmp },
        maxBuffer: 16 * 1024 * 1024,
      });
      // 2 experiments x 20 versions, keepLast 10: 20 deletions (the bench exits 1 unless each backend deleted them).
      expect(stdout).toMatch(/^sqlite: build 40 versions .* apply 20 deletions /m);
      expect(stdout).toMatch(/^firestore: (build 40 versions .* apply 20 deletions |skipped: )/m);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, 120_000);

  it('process-bench (whole CLI processes against restic, tar and sha256sum) runs to the end', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'sl-bench-smoke-'));
    try {
      const { stdout } = await run(process.execPath, [join(REPO, 'bench', 'process-bench.mjs')], {
        cwd: tmp,
        env: { ...process.env, BENCH_SCALE: '0.005', BENCH_RUNS: '1', TMPDIR: tmp },
        maxBuffer: 16 * 1024 * 1024,
      });
      expect(stdout).toContain('| first capture, 100 x 4 KiB |');
      expect(stdout).toContain('| cold pull |');
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, 180_000);

  it('push-bench (first capture to a served home vs push --all, then a second push) runs to the end', async () => {
    const tmp = await mkdtemp(join(tmpdir(), 'sl-bench-smoke-'));
    try {
      const { stdout } = await run(process.execPath, [join(REPO, 'bench', 'push-bench.mjs')], {
        cwd: tmp,
        env: { ...process.env, BENCH_SCALE: '0.005', BENCH_RUNS: '1', TMPDIR: tmp },
        maxBuffer: 16 * 1024 * 1024,
      });
      expect(stdout).toContain('| first capture, 100 x 4 KiB |');
      expect(stdout).toMatch(
        /\| push --all, cold blob cache \| [\d.]+ \| \d+ \| first capture \| [\d.]+x \(paired [\d.]+x\) \|/,
      );
      expect(stdout).toMatch(/\| second push \(up to date\) \| [\d.]+ \| \d+ \|/);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }, 180_000);
});
