// Private by default: whatever the umask, everything the CLI creates under $STUDIOML_HOME is 0700/0600 (blobs
// 0400); a home left loose (older version, permissive umask) is tightened at start with one notice line; temp files
// a crash left in the store are swept when a server starts (embedded host and `serve`); --capture folders inside
// the working directory stay out of `workspace`. The shared assertion (find -perm /077) also runs after every test.
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  artifact,
  assertPrivateHome,
  BIN,
  type CliResult,
  cliOk,
  collect,
  freePort,
  listFiles,
  pullJson,
  type Sandbox,
  showJson,
  startCli,
  storeBlobFiles,
  storePackFiles,
  useSandboxes,
  waitFor,
} from './helpers.ts';

const sandbox = useSandboxes();

/** Runs the CLI under a given umask (through sh, which sets it before exec). */
function cliUmask(sb: Sandbox, umask: string, args: string[]): Promise<CliResult> {
  const child = spawn('sh', ['-c', `umask ${umask}; exec "$0" "$@"`, process.execPath, BIN, ...args], {
    cwd: sb.cwd,
    env: sb.env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return collect(child);
}

const mode = (p: string) => statSync(p).mode & 0o777;

describe('private home', () => {
  for (const umask of ['000', '022']) {
    it(`umask ${umask}: database, store, blobs, stat cache, output and the script's modeldir files are private`, async () => {
      const sb = sandbox();
      sb.env.STUDIOML_HOME = join(sb.home, 'h'); // a home the CLI creates itself
      writeFileSync(join(sb.cwd, 'data.txt'), 'x'.repeat(300_000)); // a large blob (streamed upload)
      writeFileSync(join(sb.cwd, 'small.txt'), 'small'); // a small one (pack)
      const r = await cliUmask(sb, umask, [
        'run',
        '-e',
        'p1',
        '--',
        'sh',
        '-c',
        'echo w > "$STUDIOML_HOME/experiments/p1/modeldir/m.txt"; mkdir -p "$STUDIOML_HOME/experiments/p1/tb/run1"',
      ]);
      expect(r.code, r.stderr).toBe(0);
      const home = join(sb.home, 'h');
      expect(mode(home)).toBe(0o700);
      expect(mode(join(home, 'db'))).toBe(0o700);
      for (const f of ['studio.sqlite', 'studio.sqlite-wal', 'studio.sqlite-shm']) {
        if (existsSync(join(home, 'db', f))) expect(mode(join(home, 'db', f)), f).toBe(0o600);
      }
      expect(mode(join(home, 'statcache.db'))).toBe(0o600);
      expect(mode(join(home, 'store'))).toBe(0o700);
      const blobs = [...storeBlobFiles(home), ...storePackFiles(home)];
      expect(blobs.length).toBeGreaterThanOrEqual(3);
      for (const b of blobs) expect([0o400, 0o600], b).toContain(mode(b));
      expect(mode(join(home, 'experiments', 'p1', 'output'))).toBe(0o600);
      expect(mode(join(home, 'experiments', 'p1', 'modeldir', 'm.txt'))).toBe(0o600);
      assertPrivateHome(home);
      expect(r.stderr).not.toContain('notice');
    });
  }

  it('a loose existing home is tightened at start with exactly one notice line, and only once', async () => {
    const sb = sandbox();
    await cliOk(sb, ['run', '-e', 'loose', '--', 'true']);
    // As an older version under umask 022 left it: folders 0755, files 0644, blobs 0444.
    execFileSync('chmod', ['-R', 'go+rX', sb.home]);
    expect(mode(join(sb.home, 'db', 'studio.sqlite'))).toBe(0o644);
    const first = await cliOk(sb, ['experiments']);
    const notices = first.stderr.split('\n').filter((l) => l.includes('notice'));
    expect(notices, first.stderr).toHaveLength(1);
    expect(notices[0]).toContain(sb.home);
    assertPrivateHome(sb.home);
    const again = await cliOk(sb, ['experiments']);
    expect(again.stderr).not.toContain('notice');
  });
});

describe('crash leftovers in the store', () => {
  /** An old and a fresh temp file in store/.tmp and beside a blob, as a kill -9 mid-upload leaves them. */
  function plantTemps(home: string) {
    const blob = storeBlobFiles(home)[0] as string;
    const tmpDir = join(home, 'store', '.tmp');
    mkdirSync(tmpDir, { recursive: true, mode: 0o700 });
    const files = {
      oldTmp: join(tmpDir, 'crashed-upload'),
      freshTmp: join(tmpDir, 'upload-in-flight'),
      oldBeside: join(blob, '..', '.tmp-1234-abcdef-7'),
    };
    for (const f of Object.values(files)) writeFileSync(f, Buffer.alloc(1 << 20), { mode: 0o600 });
    const twoHoursAgo = new Date(Date.now() - 2 * 3600 * 1000);
    utimesSync(files.oldTmp, twoHoursAgo, twoHoursAgo);
    utimesSync(files.oldBeside, twoHoursAgo, twoHoursAgo);
    // Files beside blobs are looked for at most once an hour (a walk of every fan-out folder): the last full
    // sweep is made two hours old.
    const stamp = join(home, 'store', '.sweep-stamp');
    writeFileSync(stamp, '', { flag: 'a', mode: 0o600 });
    utimesSync(stamp, twoHoursAgo, twoHoursAgo);
    return files;
  }

  it('are swept when the embedded host starts: older than an hour gone, fresh ones kept', async () => {
    const sb = sandbox();
    await cliOk(sb, ['run', '-e', 'e1', '--', 'true']);
    const t = plantTemps(sb.home);
    await cliOk(sb, ['experiments']);
    expect(existsSync(t.oldTmp)).toBe(false);
    expect(existsSync(t.oldBeside)).toBe(false);
    expect(existsSync(t.freshTmp)).toBe(true);
  });

  it('are swept when `serve` starts', async () => {
    const sb = sandbox();
    await cliOk(sb, ['run', '-e', 'e1', '--', 'true']);
    const t = plantTemps(sb.home);
    const port = await freePort();
    const child = startCli(sb, ['serve', '--port', String(port)]);
    const out = collect(child);
    try {
      await waitFor(() => out.stdoutSoFar().includes('listening on'), 'serve to listen');
      await waitFor(() => !existsSync(t.oldTmp) && !existsSync(t.oldBeside), 'the sweep', 10_000);
      expect(existsSync(t.freshTmp)).toBe(true);
    } finally {
      child.kill('SIGTERM');
      await out;
    }
  });
});

describe('--capture inside the working directory', () => {
  it('is left out of workspace (captured once, under its own tag) and show says so', async () => {
    const sb = sandbox();
    writeFileSync(join(sb.cwd, 'train.py'), 'print(1)\n');
    mkdirSync(join(sb.cwd, 'out', 'ckpt'), { recursive: true });
    writeFileSync(join(sb.cwd, 'out', 'ckpt', 'w.bin'), 'weights');
    mkdirSync(join(sb.cwd, 'data[1]'));
    writeFileSync(join(sb.cwd, 'data[1]', 'in.csv'), 'a,b\n');
    await cliOk(sb, ['run', '-e', 'ex', '-c', './out:weights', '-co', './data[1]:inputs', '--', 'true']);
    const show = await showJson(sb, 'ex');
    expect(artifact(show, 'weights').versions[0]?.files).toBe(1);
    expect(artifact(show, 'inputs').versions[0]?.files).toBe(1);
    const ws = artifact(show, 'workspace').versions[0];
    expect(ws?.files).toBe(1); // train.py only
    const pulled = sb.tmp();
    await pullJson(sb, 'ex/workspace', pulled);
    expect(listFiles(pulled)).toEqual(['train.py']);
    const text = (await cliOk(sb, ['show', 'ex'])).stdout;
    expect(text).toContain('workspace@1 leaves out out (captured as weights)');
    expect(text).toContain('workspace@1 leaves out data[1] (captured as inputs)');
  });
});
