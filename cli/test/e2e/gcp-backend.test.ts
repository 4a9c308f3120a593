// The real studio-lite binary against a team deployment on this machine: the bundled Cloud Function (functions-
// framework) on the Firestore and Storage emulators, with signed URLs served by the verifying V4 gateway. The same
// scenarios as the local-backend e2e tests: Studio's linear-regression capture and reuse, a crash, SIGINT, an
// incremental capture of 500 files and a byte-identical pull into an empty cache.
import { copyFileSync, mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { useGcpDeployment } from './gcp-harness.ts';
import {
  artifact,
  cli,
  cliOk,
  collect,
  EXAMPLES,
  listFiles,
  pullJson,
  SLEEPER,
  showJson,
  startCli,
  waitFor,
} from './helpers.ts';

const gcp = useGcpDeployment({}, (dep) => console.info(`[gcp e2e] deployment up: ${JSON.stringify(dep.timings)} ms`));
/** A fresh home and cwd whose CLI talks to the deployment (like a second machine of the same team). */
const remote = gcp.remote;

describe('studio-lite against the Cloud Function on the emulators', () => {
  it('is connected to the deployment (whoami through the function)', async () => {
    const dep = gcp.deployment();
    const res = await fetch(`${dep.url}/v1/whoami`, { headers: { authorization: `Bearer ${dep.token}` } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { team: string }).team).toBe(dep.team);
  });

  it('linear regression: captures 10 weight files, a reusing run prints the same final norm, pull is identical', async () => {
    const sb = remote();
    copyFileSync(join(EXAMPLES, 'train.py'), join(sb.cwd, 'train.py'));
    copyFileSync(join(EXAMPLES, 'print_norm.py'), join(sb.cwd, 'print_norm.py'));
    mkdirSync(join(sb.cwd, 'weights'));
    const r = await cliOk(sb, ['run', '--capture=./weights:weights', '-e', 'lr', 'train.py']);
    const norms = r.stdout.match(/L2 norm = \S+/g) ?? [];
    expect(norms).toHaveLength(10);

    const lr = await showJson(sb, 'lr');
    expect(lr.experiment).toMatchObject({ status: 'finished', exitCode: 0 });
    const weights = artifact(lr, 'weights');
    expect(weights.mutable).toBe(true);
    expect(weights.versions.at(-1)?.files).toBe(10);
    expect(artifact(lr, 'workspace').versions).toHaveLength(1);

    // Another machine of the team (empty cache) reuses the weights.
    const other = remote();
    copyFileSync(join(EXAMPLES, 'print_norm.py'), join(other.cwd, 'print_norm.py'));
    const second = await cliOk(other, ['run', '--reuse=lr/weights:w', '-e', 'norm', 'print_norm.py']);
    expect((second.stdout.match(/L2 norm = \S+/g) ?? []).at(-1)).toBe(norms.at(-1));
    const norm = await showJson(other, 'norm');
    expect(norm.experiment.status).toBe('finished');
    expect(norm.experiment.lineage).toEqual([
      { as: 'w', experiment: 'lr', tag: 'weights', version: weights.latestVersion },
    ]);

    const dest = join(other.tmp(), 'weights');
    const pulled = await pullJson(other, 'lr/weights', dest);
    expect(pulled.files).toBe(10);
    const names = listFiles(join(sb.cwd, 'weights'));
    expect(listFiles(dest)).toEqual(names);
    for (const n of names)
      expect(readFileSync(join(dest, n)).equals(readFileSync(join(sb.cwd, 'weights', n)))).toBe(true);
  });

  it('a crashing script ends failed with its exit code, and its output artifact holds the traceback', async () => {
    const sb = remote();
    writeFileSync(join(sb.cwd, 'crash.py'), 'print("line printed before the crash")\nraise RuntimeError("boom")\n');
    const r = await cli(sb, ['run', '-e', 'crash', 'crash.py']);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('RuntimeError: boom');
    const show = await showJson(sb, 'crash');
    expect(show.experiment).toMatchObject({ status: 'failed', exitCode: 1 });
    const dest = join(sb.tmp(), 'out');
    await pullJson(sb, 'crash/output', dest);
    const text = readFileSync(join(dest, 'output'), 'utf8');
    expect(text).toContain('line printed before the crash');
    expect(text).toContain('RuntimeError: boom');
  });

  it('SIGINT mid-run: status stopped, and the final capture holds the file written before the signal', async () => {
    const sb = remote();
    mkdirSync(join(sb.cwd, 'ckpt'));
    writeFileSync(join(sb.cwd, 'sleeper.py'), SLEEPER);
    const child = startCli(sb, ['run', '-c', './ckpt:ckpt', '--capture-interval', '600', '-e', 'sleepy', 'sleeper.py']);
    const run = collect(child);
    await waitFor(() => run.stdoutSoFar().includes('READY'), 'READY from the script');
    child.kill('SIGINT');
    const r = await run;
    expect(r.stdout).not.toContain('NOT REACHED');
    expect([130, 1]).toContain(r.code);
    const show = await showJson(sb, 'sleepy');
    expect(show.experiment.status).toBe('stopped');
    expect(show.experiment.exitCode).toBe(r.code);
    const ckpt = artifact(show, 'ckpt');
    expect(ckpt.versions.at(-1)?.files).toBe(1);
    const dest = join(sb.tmp(), 'ckpt');
    await pullJson(sb, 'sleepy/ckpt', dest);
    expect(readFileSync(join(dest, 'before-signal.txt'), 'utf8')).toBe('written before the signal\n');
  });

  describe('500 files', () => {
    const N = 500;
    let data: string;
    const changed = 'changed content of f123\n';

    it('incremental capture: after one file changes, the last version uploaded 1 blob', async () => {
      const sb = remote();
      data = join(sb.tmp(), 'data');
      mkdirSync(data);
      const hourAgo = (Date.now() - 3600_000) / 1000;
      for (let i = 0; i < N; i++) {
        const name = `f${String(i).padStart(3, '0')}.txt`;
        writeFileSync(join(data, name), `file number ${i}\n`);
        utimesSync(join(data, name), hourAgo, hourAgo);
      }
      // Generous sleeps: the first capture (500 signed PUTs) must have taken its snapshot before the change.
      writeFileSync(
        join(sb.cwd, 'touch_one.py'),
        [
          'import os, sys, time',
          'd = sys.argv[1]',
          'time.sleep(4)',
          "tmp = os.path.join(os.path.dirname(d), 'f123.tmp')",
          "with open(tmp, 'w') as f:",
          `    f.write(${JSON.stringify(changed)})`,
          "os.replace(tmp, os.path.join(d, 'f123.txt'))",
          'time.sleep(3)',
        ].join('\n'),
      );
      await cliOk(sb, ['run', '--capture-interval', '1', '-c', `${data}:data`, '-e', 'inc', 'touch_one.py', data]);
      const show = await showJson(sb, 'inc');
      expect(show.experiment.status).toBe('finished');
      const versions = artifact(show, 'data').versions;
      expect(versions.length).toBeGreaterThanOrEqual(2);
      const first = versions[0];
      const last = versions.at(-1);
      expect(first?.files).toBe(N);
      expect(first?.stats.uploadedBlobs).toBe(N);
      expect(last?.files).toBe(N);
      expect(last?.stats.uploadedBlobs).toBe(1);
      expect(last?.stats.hashedFiles).toBe(1);
      expect(last?.stats.uploadedBytes).toBe(Buffer.byteLength(changed));
    });

    it('pull into an empty cache downloads all 500 blobs through signed GETs, byte-identical', async () => {
      expect(data).toBeDefined();
      const sb = remote();
      const dest = join(sb.tmp(), 'pulled');
      const pulled = await pullJson(sb, 'inc/data', dest);
      expect(pulled.files).toBe(N);
      expect(pulled.downloadedBlobs).toBe(N);
      const names = listFiles(data);
      expect(names).toHaveLength(N);
      expect(listFiles(dest)).toEqual(names);
      for (const n of names) expect(readFileSync(join(dest, n)).equals(readFileSync(join(data, n)))).toBe(true);
      expect(readFileSync(join(dest, 'f123.txt'), 'utf8')).toBe(changed);
    });
  });
});
