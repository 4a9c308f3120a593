// `studio-lite tensorboard`: the latest `tb` version of each experiment in one logdir (a subfolder per key), kept in
// sync while runs go on, with a stand-in `tensorboard` on PATH (a shell script that records its arguments and its
// stop); without one, the command to run; `--once --json`; refusals that write nothing.
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { delimiter, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cli, cliOk, collect, errorLine, listFiles, type Sandbox, startCli, useSandboxes, waitFor } from './helpers.ts';

const sandbox = useSandboxes();

/** PATH without any real `tensorboard`, with `first` in front. */
function pathWithout(first?: string): string {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((d) => d !== '' && !existsSync(join(d, 'tensorboard')));
  return [...(first ? [first] : []), ...dirs].join(delimiter);
}

/**
 * A `tensorboard` that records its arguments and pid, says where it serves, and records that it was stopped
 * (SIGTERM/SIGINT) before exiting 0.
 */
function standIn(sb: Sandbox): { env: NodeJS.ProcessEnv; bin: string; record: string } {
  const dir = sb.tmp();
  const record = join(sb.tmp(), 'tb');
  const bin = join(dir, 'tensorboard');
  writeFileSync(
    bin,
    [
      '#!/bin/sh',
      'echo $$ > "$TB_RECORD.pid"',
      'printf "%s\\n" "$@" > "$TB_RECORD.args"',
      'echo "stand-in TensorBoard at http://localhost:$4/" >&2',
      `trap 'echo stopped > "$TB_RECORD.stopped"; exit 0' TERM INT`,
      'while :; do sleep 0.1; done',
      '',
    ].join('\n'),
    { mode: 0o755 },
  );
  return { env: { ...sb.env, PATH: pathWithout(dir), TB_RECORD: record }, bin, record };
}

/** Piped output: no progress bar (carriage returns, escape sequences). */
function expectNoProgress(stderr: string): void {
  expect(stderr.includes('\r') || stderr.includes('\u001b')).toBe(false);
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** A finished run `key` whose tb folder gets `files` (relative path -> content). */
async function runWithTb(sb: Sandbox, key: string, files: Record<string, string>, extra: string[] = []) {
  const script = Object.entries(files)
    .map(([rel, text]) => `mkdir -p "$(dirname "$T/${rel}")" && printf '%s' '${text}' > "$T/${rel}"`)
    .join(' && ');
  await cliOk(sb, ['run', '-q', '-e', key, ...extra, '--', 'sh', '-c', `T="$STUDIOML_ARTIFACT_TB"; ${script}`]);
}

interface TbJson {
  logdir: string;
  experiments: {
    key: string;
    status: string;
    version: number | null;
    files: number;
    bytes: number;
    downloadedBytes: number;
  }[];
  tensorboard: string | null;
}

describe('tensorboard', () => {
  it('follows a running experiment (new files, appends in place, removals) and stops TensorBoard on SIGINT', async () => {
    const sb = sandbox();
    const tb = standIn(sb);
    const go = sb.tmp();
    const logdir = join(sb.tmp(), 'logs');
    const script = [
      'T="$STUDIOML_ARTIFACT_TB"',
      'mkdir -p "$T/train"',
      'printf "step1\\n" > "$T/train/events.out.tfevents.1"',
      'echo old > "$T/old.txt"',
      `touch ${go}/started`,
      `while [ ! -e ${go}/1 ]; do sleep 0.1; done`,
      'printf "step2\\n" >> "$T/train/events.out.tfevents.1"',
      'rm "$T/old.txt"',
      'echo new > "$T/eval.txt"',
      `while [ ! -e ${go}/2 ]; do sleep 0.1; done`,
    ].join('\n');
    const run = collect(startCli(sb, ['run', '-q', '-e', 'live', '--capture-interval', '1', '--', 'sh', '-c', script]));
    await waitFor(() => existsSync(join(go, 'started')), 'the script to start');

    const child = startCli({ cwd: sb.cwd, env: tb.env }, [
      'tensorboard',
      'live',
      '--interval',
      '0.3',
      '--logdir',
      logdir,
      '--port',
      '6123',
    ]);
    const cmd = collect(child);
    let stderr = '';
    child.stderr?.on('data', (d: string) => {
      stderr += d;
    });
    const events = join(logdir, 'live', 'train', 'events.out.tfevents.1');
    const read = (p: string) => (existsSync(p) ? readFileSync(p, 'utf8') : null);
    await waitFor(
      () => read(events) === 'step1\n' && existsSync(join(logdir, 'live', 'old.txt')),
      'the first version in the logdir',
    );
    // TensorBoard starts after the first layout, on the logdir and port asked for.
    await waitFor(() => existsSync(`${tb.record}.args`), 'the stand-in tensorboard to start');
    expect(readFileSync(`${tb.record}.args`, 'utf8')).toBe(`--logdir\n${logdir}\n--port\n6123\n`);
    const pid = Number(readFileSync(`${tb.record}.pid`, 'utf8'));
    // Held open as TensorBoard holds an event file it reads.
    const held = openSync(events, 'r');
    const inode = statSync(events).ino;

    writeFileSync(join(go, '1'), '');
    await waitFor(
      () =>
        read(events) === 'step1\nstep2\n' &&
        read(join(logdir, 'live', 'eval.txt')) === 'new\n' &&
        !existsSync(join(logdir, 'live', 'old.txt')),
      'the newer version in the logdir',
    );
    // The grown event file was written in place: a reader holding it open reads on from where it was.
    expect(statSync(events).ino).toBe(inode);
    const tail = Buffer.alloc(64);
    expect(tail.toString('utf8', 0, readSync(held, tail, 0, 64, 6))).toBe('step2\n');
    closeSync(held);

    writeFileSync(join(go, '2'), '');
    const ran = await run;
    expect(ran.code, ran.stderr).toBe(0);
    await waitFor(() => stderr.includes('finished'), 'the command to see the run end');
    expect(alive(pid)).toBe(true);

    child.kill('SIGINT');
    const r = await cmd;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`logdir: ${logdir}\nTensorBoard: http://localhost:6123/\n`);
    // Its output went to stderr; it was stopped, not left behind.
    expect(r.stderr).toContain('stand-in TensorBoard at http://localhost:6123/');
    expect(readFileSync(`${tb.record}.stopped`, 'utf8')).toBe('stopped\n');
    await waitFor(() => !alive(pid), 'the stand-in to exit', 5000);
    expect(listFiles(join(logdir, 'live'))).toEqual(['eval.txt', 'train/events.out.tfevents.1']);
    // Piped: no progress bar.
    expectNoProgress(r.stderr);
  });

  it('without tensorboard on PATH prints the logdir and the command, and keeps syncing until SIGINT', async () => {
    const sb = sandbox();
    await runWithTb(sb, 'done1', { 'e.txt': 'x' });
    const logdir = join(sb.tmp(), 'my logs');
    const env = { ...sb.env, PATH: pathWithout() };
    const child = startCli({ cwd: sb.cwd, env }, ['tensorboard', 'done1', '--logdir', logdir, '--interval', '0.3']);
    const out = collect(child);
    await waitFor(() => out.stdoutSoFar().includes('tensorboard --logdir'), 'the command line');
    child.kill('SIGINT');
    const r = await out;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`logdir: ${logdir}\ntensorboard --logdir '${logdir}'\n`);
    expect(r.stderr).toContain('tensorboard is not on PATH');
    expect(readFileSync(join(logdir, 'done1', 'e.txt'), 'utf8')).toBe('x');
  });

  it('--once --json: one subfolder per experiment, waiting ones listed, a warm second layout downloads nothing', async () => {
    const sb = sandbox();
    await runWithTb(sb, 'e1', { 'train/events.out.tfevents.1': 'one' });
    await runWithTb(sb, 'e2', { 'b.txt': 'bb' }, ['--project', 'p']);
    // Queued, no worker: no tb version yet.
    await cliOk(sb, ['run', '-q', '--queue', 'q', '--project', 'p', '-e', 'q1', '--', 'true']);

    const tb = standIn(sb);
    const first = await cli({ cwd: sb.cwd, env: tb.env }, ['tensorboard', 'e1', '--project', 'p', '--once', '--json']);
    expect(first.code, first.stderr).toBe(0);
    expectNoProgress(first.stderr);
    const j = JSON.parse(first.stdout) as TbJson;
    const logdir = join(sb.home, 'tensorboard', 'project-p+e1');
    expect(j).toEqual({
      logdir,
      experiments: [
        { key: 'e1', status: 'finished', version: 1, files: 1, bytes: 3, downloadedBytes: 3 },
        { key: 'e2', status: 'finished', version: 1, files: 1, bytes: 2, downloadedBytes: 2 },
        { key: 'q1', status: 'queued', version: null, files: 0, bytes: 0, downloadedBytes: 0 },
      ],
      tensorboard: tb.bin,
    });
    // --once never starts TensorBoard.
    expect(existsSync(`${tb.record}.args`)).toBe(false);
    expect(listFiles(logdir)).toEqual(['.studio-lite-tensorboard', 'e1/train/events.out.tfevents.1', 'e2/b.txt']);
    expect(readFileSync(join(logdir, 'e1', 'train', 'events.out.tfevents.1'), 'utf8')).toBe('one');
    expect(readdirSync(logdir).sort()).toEqual(['.studio-lite-tensorboard', 'e1', 'e2']);

    // Again (the logdir is its own): nothing travels, nothing changes.
    const again = JSON.parse(
      (
        await cliOk({ cwd: sb.cwd, env: { ...sb.env, PATH: pathWithout() } }, [
          'tensorboard',
          '--project',
          'p',
          'e1',
          '--once',
          '--json',
        ])
      ).stdout,
    ) as TbJson;
    expect(again.logdir).toBe(logdir);
    expect(again.experiments.map((e) => e.downloadedBytes)).toEqual([0, 0, 0]);
    expect(again.tensorboard).toBe(null);

    // For people: the logdir and the command on stdout, one line per experiment on stderr.
    const human = await cliOk(sb, ['tensorboard', 'e1', '--once']);
    expect(human.stdout).toBe(
      `logdir: ${join(sb.home, 'tensorboard', 'e1')}\ntensorboard --logdir ${join(sb.home, 'tensorboard', 'e1')}\n`,
    );
    expect(human.stderr).toContain('e1: tb@1 laid out (1 files, 3 B');
  });

  it('an unknown key exits 2 with E_NOT_FOUND and writes nothing', async () => {
    const sb = sandbox();
    await runWithTb(sb, 'e1', { 'a.txt': 'a' });
    const logdir = join(sb.tmp(), 'new-logdir');
    const r = await cli(sb, ['tensorboard', 'e1', 'nosuch', '--logdir', logdir, '--once']);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr)).toMatchObject({ code: 'E_NOT_FOUND', message: 'experiment nosuch not found' });
    expect(existsSync(logdir)).toBe(false);

    // Watching too: refused before TensorBoard or the default logdir.
    const tb = standIn(sb);
    const w = await cli({ cwd: sb.cwd, env: tb.env }, ['tensorboard', 'nosuch']);
    expect(w.code).toBe(2);
    expect(errorLine(w.stderr).code).toBe('E_NOT_FOUND');
    expect(existsSync(join(sb.home, 'tensorboard'))).toBe(false);
    expect(existsSync(`${tb.record}.args`)).toBe(false);
  });

  it('refuses a --logdir that is not empty and not its own; takes an empty one', async () => {
    const sb = sandbox();
    await runWithTb(sb, 'e1', { 'a.txt': 'a' });
    const mine = sb.tmp();
    writeFileSync(join(mine, 'notes.txt'), 'mine');
    const r = await cli(sb, ['tensorboard', 'e1', '--logdir', mine, '--once']);
    expect(r.code).toBe(2);
    const e = errorLine(r.stderr);
    expect(e.code).toBe('E_DEST_EXISTS');
    expect(e.message).toContain('not made by `studio-lite tensorboard`');
    expect(readdirSync(mine)).toEqual(['notes.txt']);

    const empty = join(sb.tmp(), 'empty');
    mkdirSync(empty);
    await cliOk(sb, ['tensorboard', 'e1', '--logdir', empty, '--once', '-q']);
    expect(listFiles(empty)).toEqual(['.studio-lite-tensorboard', 'e1/a.txt']);
  });
});
