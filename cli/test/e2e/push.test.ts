// `studio-lite push` (issue 16) with the real binary between real backends on loopback: a home's embedded backend,
// `studio-lite serve` processes of other homes, and a third home's embedded backend for the other direction. Every
// comparison reads both sides through the CLI (`show --json`, `pull` into homes with an empty cache).
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BIN,
  type CliResult,
  cli,
  cliOk,
  collect,
  errorLine,
  experimentsJson,
  freePort,
  listFiles,
  makeSandbox,
  pullJson,
  recordedBlobs,
  removeSandbox,
  type Sandbox,
  type ShowJson,
  sha256,
  showJson,
  startCli,
  waitFor,
} from './helpers.ts';

interface PushResultJson {
  source: string;
  target: string;
  outcome: 'pushed' | 'up-to-date' | 'would-push';
  created: boolean;
  versions: number;
  bytes: number;
  uploadedBlobs: number;
  uploadedBytes: number;
  presentBlobs: number;
  downloadedBytes: number;
}
interface PushJson {
  from: string;
  to: string;
  dryRun: boolean;
  experiments: number;
  versions: number;
  uploadedBlobs: number;
  uploadedBytes: number;
  presentBlobs: number;
  downloadedBytes: number;
  upToDate: number;
  skipped: { key: string; reason: string }[];
  results: PushResultJson[];
}
type PushInfo = { origin: string; from: string; by: string; host: string | null; at: string; complete: boolean };
type TargetShow = ShowJson & { experiment: ShowJson['experiment'] & { push?: PushInfo | null } };

const boxes: (Sandbox & { dirs: string[] })[] = [];
const stops: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const s of stops.splice(0)) await s();
  for (const b of boxes.splice(0)) removeSandbox(b);
});

function box(): Sandbox & { dirs: string[] } {
  const b = makeSandbox();
  boxes.push(b);
  return b;
}

/** `studio-lite serve` on a fresh home: the target deployment, with the owner's token of that home. */
interface Server {
  sb: Sandbox;
  url: string;
  token: string;
  stop(): Promise<unknown>;
}

/** A new server on a fresh home, or (`again`) one more on the home and port of a stopped one. */
async function startServer(again?: Server): Promise<Server> {
  const sb = again?.sb ?? box();
  const port = again ? Number(new URL(again.url).port) : await freePort();
  const child = startCli(sb, ['serve', '--port', String(port)]);
  const out = collect(child);
  await waitFor(() => out.stdoutSoFar().includes('listening on'), 'serve to listen');
  const token = (JSON.parse(readFileSync(join(sb.home, 'credentials.json'), 'utf8')) as { token: string }).token;
  const stop = () => {
    child.kill('SIGTERM');
    return out;
  };
  stops.push(stop);
  return { sb, url: `http://127.0.0.1:${port}`, token, stop };
}

/** A fresh home whose commands go to the server (its blob cache starts empty). */
function clientOf(s: Server, token = s.token): Sandbox {
  const sb = box();
  sb.env.STUDIOML_API_URL = s.url;
  sb.env.STUDIOML_TOKEN = token;
  return sb;
}

/** The same home, with a token for the deployment on the other side of a push. */
const withToken = (sb: Sandbox, token: string): Sandbox => ({ ...sb, env: { ...sb.env, STUDIOML_TOKEN: token } });

const json = <T>(r: CliResult): T => JSON.parse(r.stdout) as T;

/** `push … --json`: exit 0, stdout is exactly one JSON object and stderr is empty (piped: no progress). */
async function pushJson(sb: Sandbox, args: string[]): Promise<PushJson> {
  const r = await cliOk(sb, ['push', ...args, '--json']);
  expect(r.stdout.trimStart().startsWith('{')).toBe(true);
  const out = json<PushJson>(r); // throws on a second object or any other line
  expect(r.stderr).toBe('');
  return out;
}

/** A refused command: its exit code and one `studio-lite: E_CODE: …` line. */
async function refused(sb: Sandbox, args: string[], exit: number, code: string): Promise<string> {
  const r = await cli(sb, args);
  expect(r.code, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).toBe(exit);
  const line = errorLine(r.stderr);
  expect(line.code).toBe(code);
  expect(r.stdout).toBe('');
  return line.message;
}

/** The target's record through its HTTP API (null: no such experiment): cheap enough to poll every few ms. */
async function remoteShow(s: Server, key: string): Promise<TargetShow | null> {
  const res = await fetch(`${s.url}/v1/experiments/${key}`, { headers: { authorization: `Bearer ${s.token}` } });
  if (res.status === 404) return null;
  if (!res.ok) throw new Error(`GET ${key}: ${res.status} ${await res.text()}`);
  return (await res.json()) as TargetShow;
}

/**
 * The target's `show --json` equals the source's field by field, except `push` (checked: complete, from) and, for
 * a renamed experiment, key and the lineage keys `rename` maps.
 */
function expectSameShow(
  source: ShowJson,
  target: TargetShow,
  o: { from: string; key?: string; team?: string; rename?: Record<string, string> },
): void {
  const key = o.key ?? source.experiment.key;
  const team = o.team ?? (source.experiment as unknown as { team: string }).team;
  expect(target.experiment.push).toMatchObject({ from: o.from, complete: true });
  const { push: _push, ...rest } = target.experiment;
  const renamed = (k: string) => o.rename?.[k] ?? k;
  const expected = structuredClone(source);
  Object.assign(expected.experiment, { key, team });
  expected.experiment.lineage = expected.experiment.lineage.map((l) => ({ ...l, experiment: renamed(l.experiment) }));
  // An alias is set anew on the target (its own time and setter): the same name on the same version.
  const named = (x: object) =>
    ((x as { aliases?: { name: string; version: number }[] }).aliases ?? []).map((y) => ({
      name: y.name,
      version: y.version,
    }));
  for (const a of expected.artifacts) {
    Object.assign(a, { experiment: key, team, aliases: named(a) });
    for (const v of a.versions) Object.assign(v, { experiment: key, team });
  }
  const got = structuredClone(target);
  for (const a of got.artifacts) Object.assign(a, { aliases: named(a) });
  expect({ ...got, experiment: rest }).toEqual(expected);
}

/** Path -> content of every file and symlink below `dir` (hash and exec bit, or the link's target). */
function tree(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of readdirSync(dir, { recursive: true, withFileTypes: true })) {
    const full = join(e.parentPath, e.name);
    const rel = full.slice(dir.length + 1);
    const st = lstatSync(full);
    if (st.isSymbolicLink()) out[rel] = `link:${readlinkSync(full)}`;
    else if (st.isFile()) out[rel] = `file:${sha256(readFileSync(full))}:${st.mode & 0o100 ? 'x' : '-'}`;
  }
  return out;
}

const versionCount = (shows: ShowJson[]) =>
  shows.reduce((n, s) => n + s.artifacts.reduce((m, a) => m + a.versions.length, 0), 0);

/** Stderr of a piped push without --json: only one line per experiment, no progress bar or control characters. */
function expectPlainStderr(stderr: string, keys: string[]): void {
  expect(stderr).not.toContain('\r');
  expect(stderr).not.toContain('\u001b');
  const lines = stderr.split('\n').filter(Boolean);
  expect(lines.map((l) => l.split(':')[0]?.split(' -> ')[0])).toEqual(keys);
  for (const l of lines) expect(l).toMatch(/^[a-z0-9-]+( -> [a-z0-9-]+)?: (created|updated|up to date)/);
}

// The source home: three experiments whose artifacts are reused down a chain (c reuses b's model, b reuses a's data).
// The captured folders live outside the working directory, which holds the one script every run executes.
const STEP = `const fs = require('fs'), path = require('path');
const [mode, as, file, dest, note] = process.argv.slice(2);
if (mode === 'copy') {
  const m = JSON.parse(fs.readFileSync(process.env.STUDIOML_ARTIFACT_MAPPING, 'utf8'));
  fs.copyFileSync(path.join(m[as], file), path.join(dest, 'from-' + as + '.txt'));
  fs.writeFileSync(path.join(dest, 'note.txt'), note);
} else if (mode === 'note') fs.writeFileSync(path.join(dest, 'note.txt'), note);
console.log('step', mode || 'none', note || '');
`;

let src: Sandbox;
let dirs: { a: string; b1: string; b: string; c: string };
let sourceShows: ShowJson[];
const KEYS = ['a', 'b', 'c'];

async function makeSource(): Promise<void> {
  src = box();
  writeFileSync(join(src.cwd, 'step.js'), STEP);
  const root = src.tmp();
  dirs = { a: join(root, 'a'), b1: join(root, 'b1'), b: join(root, 'b'), c: join(root, 'c') };
  mkdirSync(join(dirs.a, 'nested', 'deep'), { recursive: true });
  writeFileSync(join(dirs.a, 'readme.txt'), 'data of a\n');
  writeFileSync(join(dirs.a, 'nested', 'deep', 'rows.csv'), 'x,y\n1,2\n3,4\n');
  writeFileSync(join(dirs.a, 'blob.bin'), randomBytes(300_000)); // a blob of its own (over 256 KiB)
  writeFileSync(join(dirs.a, 'empty'), '');
  writeFileSync(join(dirs.a, 'run.sh'), '#!/bin/sh\necho hi\n');
  chmodSync(join(dirs.a, 'run.sh'), 0o755);
  symlinkSync('readme.txt', join(dirs.a, 'link'));
  mkdirSync(dirs.b);
  writeFileSync(join(dirs.b, 'weights.bin'), randomBytes(400_000));
  mkdirSync(dirs.c);
  const node = process.execPath;
  await cliOk(src, ['run', '-q', '-e', 'a', '--capture-once', `${dirs.a}:data`, '--', node, 'step.js']);
  await cliOk(src, [
    'run',
    '-q',
    '-e',
    'b',
    '--reuse',
    'a/data:in',
    '-c',
    `${dirs.b}:model`,
    '--',
    node,
    'step.js',
    'copy',
    'in',
    'readme.txt',
    dirs.b,
    'b v1',
  ]);
  cpSync(dirs.b, dirs.b1, { recursive: true });
  // A second attempt of b: model@2 and a second output version.
  await cliOk(src, [
    'run',
    '-q',
    '--resume',
    '-e',
    'b',
    '-c',
    `${dirs.b}:model`,
    '--',
    node,
    'step.js',
    'note',
    '',
    '',
    dirs.b,
    'b v2',
  ]);
  await cliOk(src, [
    'run',
    '-q',
    '-e',
    'c',
    '--reuse',
    'b/model:m',
    '-c',
    `${dirs.c}:out`,
    '--',
    node,
    'step.js',
    'copy',
    'm',
    'note.txt',
    dirs.c,
    'c v1',
  ]);
  // An alias travels with its experiment (set on the target after the versions it names).
  await cliOk(src, ['alias', 'b/model@1', 'best']);
  sourceShows = [];
  for (const k of KEYS) sourceShows.push(await showJson(src, k));
  const [, b, c] = sourceShows as [ShowJson, ShowJson, ShowJson];
  // The chain the tests rely on.
  expect(b.experiment.lineage).toEqual([{ as: 'in', experiment: 'a', tag: 'data', version: 1 }]);
  expect(c.experiment.lineage).toEqual([{ as: 'm', experiment: 'b', tag: 'model', version: 2 }]);
  expect(b.artifacts.find((x) => x.tag === 'model')?.latestVersion).toBe(2);
  expect(b.experiment.attempts).toHaveLength(2);
}

const sourceShow = (key: string) => sourceShows.find((s) => s.experiment.key === key) as ShowJson;

let made: Promise<void> | undefined;
/** Builds the source home once, for the describe blocks that push it. */
const withSource = () => {
  made ??= makeSource();
  return made;
};

describe('push A (embedded) -> B (serve) -> C (embedded)', () => {
  let server: Server;
  let onB: Sandbox;
  beforeAll(async () => {
    await withSource();
    server = await startServer();
    onB = clientOf(server);
  });

  it('--dry-run reports what would travel and changes nothing', async () => {
    const out = await pushJson(withToken(src, server.token), ['--all', '--to', server.url, '--dry-run']);
    expect(out).toMatchObject({
      from: 'local',
      to: server.url,
      dryRun: true,
      experiments: 3,
      versions: versionCount(sourceShows),
      uploadedBlobs: 0,
      uploadedBytes: 0,
      upToDate: 0,
      skipped: [],
    });
    expect(out.results.map((r) => [r.source, r.target, r.outcome, r.created])).toEqual(
      KEYS.map((k) => [k, k, 'would-push', true]),
    );
    for (const r of out.results) expect(r.versions).toBe(versionCount([sourceShow(r.source)]));
    expect(out.results.every((r) => r.bytes > 0)).toBe(true);
    expect(await experimentsJson(onB)).toEqual([]);
    expect(recordedBlobs(server.sb.home)).toEqual([]);
  });

  it('--all copies every version, lineage, attempt and time; the target pulls the same bytes', async () => {
    const r = await cliOk(withToken(src, server.token), ['push', '--all', '--to', server.url]);
    // Piped: the summary line on stdout, one line per experiment on stderr, no progress.
    expect(r.stdout).toMatch(
      new RegExp(
        `^pushed 3 experiment\\(s\\) to ${server.url}: ${versionCount(sourceShows)} version\\(s\\), \\d+ blob`,
      ),
    );
    expect(r.stdout.split('\n').filter(Boolean)).toHaveLength(1);
    expectPlainStderr(r.stderr, KEYS);

    for (const k of KEYS) {
      const target = (await showJson(onB, k)) as TargetShow;
      expectSameShow(sourceShow(k), target, { from: 'local' });
      expect(target.experiment.push?.by).toBe('local');
    }
    // Pulled from the target into a home with an empty cache: the same bytes as the captured folders (and, for the
    // artifacts without a folder of their own, as a pull from the source).
    expect(listFiles(join(onB.home, 'blobcache'))).toEqual([]);
    const original: Record<string, string> = {
      'a/data@1': dirs.a,
      'b/model@1': dirs.b1,
      'b/model@2': dirs.b,
      'c/out@1': dirs.c,
    };
    let pulled = 0;
    for (const show of sourceShows) {
      for (const a of show.artifacts) {
        for (const v of a.versions) {
          const ref = `${show.experiment.key}/${a.tag}@${v.version}`;
          const dest = join(onB.tmp(), 'p');
          const p = await pullJson(onB, ref, dest);
          expect(p).toMatchObject({ version: v.version, files: v.files, bytes: v.bytes });
          let expected: Record<string, string>;
          if (original[ref]) expected = tree(original[ref]);
          else if (a.tag === 'workspace') expected = tree(src.cwd);
          else {
            const from = join(src.tmp(), 'p');
            await pullJson(src, ref, from);
            expected = tree(from);
          }
          expect(tree(dest), ref).toEqual(expected);
          expect(Object.keys(expected).length, ref).toBeGreaterThan(0);
          pulled += 1;
        }
      }
    }
    expect(pulled).toBe(versionCount(sourceShows));
    expect(tree(dirs.a)).toMatchObject({ link: 'link:readme.txt', 'run.sh': expect.stringMatching(/:x$/) });
  });

  it('pushing again sends nothing and changes nothing', async () => {
    const before = await Promise.all(KEYS.map((k) => showJson(onB, k)));
    const blobs = recordedBlobs(server.sb.home).length;
    const out = await pushJson(withToken(src, server.token), ['--all', '--to', server.url]);
    expect(out).toMatchObject({
      experiments: 0,
      versions: 0,
      uploadedBlobs: 0,
      uploadedBytes: 0,
      downloadedBytes: 0,
      upToDate: 3,
    });
    expect(out.results.map((r) => r.outcome)).toEqual(['up-to-date', 'up-to-date', 'up-to-date']);
    // Not even the push marker moved.
    expect(await Promise.all(KEYS.map((k) => showJson(onB, k)))).toEqual(before);
    expect(recordedBlobs(server.sb.home)).toHaveLength(blobs);
  });

  it('the other direction: --from the deployment --to local, into a third home', async () => {
    const home3 = withToken(box(), server.token);
    const out = await pushJson(home3, ['--all', '--from', server.url, '--to', 'local']);
    expect(out).toMatchObject({ from: server.url, to: 'local', experiments: 3, versions: versionCount(sourceShows) });
    for (const k of KEYS) expectSameShow(sourceShow(k), (await showJson(home3, k)) as TargetShow, { from: server.url });
    // What the embedded store of the third home holds, not its blob cache (the push filled it): the same bytes.
    rmSync(join(home3.home, 'blobcache'), { recursive: true, force: true });
    for (const [ref, dir] of [
      ['a/data@1', dirs.a],
      ['c/out@1', dirs.c],
    ] as const) {
      const dest = join(home3.tmp(), 'p');
      await pullJson(home3, ref, dest);
      expect(tree(dest), ref).toEqual(tree(dir));
    }
  });
});

describe('refusals that leave the target as it was', () => {
  beforeAll(withSource);

  it('a key taken by another history: E_CONFLICT before anything is stored; --as and --prefix push beside it', async () => {
    const server = await startServer();
    const onB = clientOf(server);
    const pusher = withToken(src, server.token);
    // B's own experiment `c`, run natively on B (its embedded backend, the database `serve` answers from).
    await cliOk(server.sb, ['run', '-q', '-e', 'c', '--', process.execPath, '-e', '']);
    const native = await showJson(onB, 'c');
    const blobs = recordedBlobs(server.sb.home);

    // c comes last in the push (after a and b, whose versions it reused): still nothing at all is stored.
    const msg = await refused(pusher, ['push', '--all', '--to', server.url], 2, 'E_CONFLICT');
    expect(msg).toContain('experiment c exists on the target with another history');
    expect(msg).toContain('--as NEWKEY');
    expect((await experimentsJson(onB)).map((e) => e.key)).toEqual(['c']);
    expect(await showJson(onB, 'c')).toEqual(native);
    expect(recordedBlobs(server.sb.home)).toEqual(blobs);
    await refused(pusher, ['push', 'c', '--to', server.url, '--with-lineage', '--json'], 2, 'E_CONFLICT');
    expect((await experimentsJson(onB)).map((e) => e.key)).toEqual(['c']);
    // Two experiments of one push under one key: refused before anything is written too.
    const twice = await refused(
      pusher,
      ['push', 'c', '--as', 'b', '--with-lineage', '--to', server.url],
      2,
      'E_BAD_REQUEST',
    );
    expect(twice).toContain('as b');
    expect((await experimentsJson(onB)).map((e) => e.key)).toEqual(['c']);
    expect(recordedBlobs(server.sb.home)).toEqual(blobs);

    // --as: c beside B's own, its lineage (b, pushed along) unchanged.
    const as = await pushJson(pusher, ['c', '--as', 'c-from-a', '--with-lineage', '--to', server.url]);
    expect(as.results.map((r) => [r.source, r.target, r.outcome])).toEqual([
      ['a', 'a', 'pushed'],
      ['b', 'b', 'pushed'],
      ['c', 'c-from-a', 'pushed'],
    ]);
    expectSameShow(sourceShow('c'), (await showJson(onB, 'c-from-a')) as TargetShow, {
      from: 'local',
      key: 'c-from-a',
    });
    for (const k of ['a', 'b'])
      expectSameShow(sourceShow(k), (await showJson(onB, k)) as TargetShow, { from: 'local' });
    expect(await showJson(onB, 'c')).toEqual(native);

    // --prefix: all three again under new keys, lineage rewritten to the new keys; every blob is there already.
    const prefixed = await pushJson(pusher, ['--all', '--prefix', 'p-', '--to', server.url]);
    expect(prefixed).toMatchObject({ experiments: 3, versions: versionCount(sourceShows), uploadedBytes: 0 });
    const rename = { a: 'p-a', b: 'p-b', c: 'p-c' };
    for (const k of KEYS) {
      const t = (await showJson(onB, `p-${k}`)) as TargetShow;
      expectSameShow(sourceShow(k), t, { from: 'local', key: `p-${k}`, rename });
    }
    expect((await showJson(onB, 'p-c')).experiment.lineage).toEqual([
      { as: 'm', experiment: 'p-b', tag: 'model', version: 2 },
    ]);
    expect((await showJson(onB, 'p-b')).experiment.lineage).toEqual([
      { as: 'in', experiment: 'p-a', tag: 'data', version: 1 },
    ]);
    expect(await showJson(onB, 'c')).toEqual(native);
    expect((await experimentsJson(onB)).map((e) => e.key).sort()).toEqual(
      ['a', 'b', 'c', 'c-from-a', 'p-a', 'p-b', 'p-c'].sort(),
    );
  });

  it("a viewer's push is refused; lineage the target lacks is refused; --with-lineage brings it", async () => {
    const server = await startServer();
    const onB = clientOf(server);
    const viewer = json<{ secret: string; role: string }>(
      await cliOk(server.sb, ['user', 'add', 'vic', '--team', 'local', '--role', 'viewer', '--json']),
    );
    expect(viewer.role).toBe('viewer');
    const nothingOnB = async () => {
      expect(await experimentsJson(onB)).toEqual([]);
      expect(recordedBlobs(server.sb.home)).toEqual([]);
    };

    const r = await cli(withToken(src, viewer.secret), ['push', 'a', '--to', server.url, '--json']);
    expect(r.code).not.toBe(0);
    expect(errorLine(r.stderr).code).toBe('E_FORBIDDEN');
    expect(r.stdout).toBe('');
    await nothingOnB();
    const r2 = await cli(withToken(src, viewer.secret), ['push', '--all', '--to', server.url]);
    expect(r2.code).not.toBe(0);
    expect(errorLine(r2.stderr).code).toBe('E_FORBIDDEN');
    await nothingOnB();

    const pusher = withToken(src, server.token);
    const msg = await refused(pusher, ['push', 'c', '--to', server.url], 2, 'E_CONFLICT');
    expect(msg).toContain('b/model@2');
    expect(msg).toContain('--with-lineage');
    await nothingOnB();
    // b alone lacks a; b and c together still lack a.
    expect(await refused(pusher, ['push', 'c', 'b', '--to', server.url], 2, 'E_CONFLICT')).toContain('a/data@1');
    await nothingOnB();

    const out = await pushJson(pusher, ['c', '--with-lineage', '--to', server.url]);
    expect(out.results.map((x) => [x.source, x.outcome])).toEqual([
      ['a', 'pushed'],
      ['b', 'pushed'],
      ['c', 'pushed'],
    ]);
    expect(out).toMatchObject({ experiments: 3, versions: versionCount(sourceShows) });
    for (const k of KEYS) expectSameShow(sourceShow(k), (await showJson(onB, k)) as TargetShow, { from: 'local' });
  });
});

describe('an interrupted push', () => {
  it('kill -9 mid-push, then push again: completes, versions 1..N once each, same show and bytes', async () => {
    // Its own source: one artifact with three versions of a few thousand small files and some MiB-sized ones.
    const home = box();
    const data = join(home.tmp(), 'big');
    for (let d = 0; d < 30; d++) {
      mkdirSync(join(data, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++)
        writeFileSync(join(data, `d${d}`, `f${f}.txt`), `${d}/${f} ${randomBytes(200).toString('hex')}\n`);
    }
    const mib = (n: number, tag: string) => {
      for (let i = 0; i < n; i++) writeFileSync(join(data, `${tag}-${i}.bin`), randomBytes(2 << 20));
    };
    mib(4, 'v1');
    const capture = ['-q', '-e', 'big', '-c', `${data}:big`, '--', process.execPath, '-e', ''];
    await cliOk(home, ['run', ...capture]);
    mib(3, 'v2');
    for (let f = 0; f < 50; f++) writeFileSync(join(data, 'd0', `f${f}.txt`), `changed ${f}\n`);
    await cliOk(home, ['run', '--resume', ...capture]);
    mib(3, 'v3');
    await cliOk(home, ['run', '--resume', ...capture]);
    const source = await showJson(home, 'big');
    expect(source.artifacts.find((a) => a.tag === 'big')?.latestVersion).toBe(3);
    const total = versionCount([source]);

    const server = await startServer();
    const pusher = withToken(home, server.token);
    /** Starts the push and kills it (-9) once `until` holds for the target's record; that record after the kill. */
    const killPushWhen = async (until: (t: TargetShow) => boolean): Promise<TargetShow> => {
      const child = startCli(pusher, ['push', 'big', '--to', server.url, '--json']);
      const done = collect(child);
      const end = Date.now() + 60_000;
      while (child.exitCode === null && Date.now() < end) {
        const t = await remoteShow(server, 'big').catch(() => null);
        if (t && until(t)) break;
        await new Promise((r) => setTimeout(r, 5));
      }
      child.kill('SIGKILL');
      const killed = await done;
      expect(killed.signal, `the push ended before it was killed:\n${killed.stdout}\n${killed.stderr}`).toBe('SIGKILL');
      expect(killed.stdout).toBe('');
      expect(killed.stderr).toBe(''); // piped: no progress
      const after = (await remoteShow(server, 'big')) as TargetShow;
      expect(after.experiment.push?.complete).toBe(false);
      return after;
    };
    const receiving = (t: TargetShow) => t.experiment.push?.complete === false;
    // Once as soon as the experiment exists there (its first version's blobs on the way), once after a version.
    const early = versionCount([await killPushWhen(receiving)]);
    const partial = await killPushWhen((t) => receiving(t) && versionCount([t]) > early);
    const stored = versionCount([partial]);
    expect(stored).toBeGreaterThan(early);
    expect(stored).toBeLessThan(total);

    const out = await pushJson(pusher, ['big', '--to', server.url]);
    expect(out).toMatchObject({ experiments: 1, upToDate: 0, versions: total - stored });
    expect(out.results[0]).toMatchObject({ outcome: 'pushed', created: false });
    const onB = clientOf(server);
    const target = (await showJson(onB, 'big')) as TargetShow;
    expectSameShow(source, target, { from: 'local' });
    for (const a of target.artifacts) {
      expect(a.versions.map((v) => v.version)).toEqual(Array.from({ length: a.latestVersion }, (_, i) => i + 1));
    }
    const dest = join(onB.tmp(), 'big');
    const pulled = await pullJson(onB, 'big/big', dest);
    expect(pulled.version).toBe(3);
    expect(tree(dest)).toEqual(tree(data));
    expect((await pushJson(pusher, ['big', '--to', server.url])).upToDate).toBe(1);

    // The counterpart of "piped: no progress": on a terminal (script(1) gives stderr a pty, stdout goes to a file)
    // the same push draws its bar. Into another team of B, which holds none of the blobs (--team).
    await cliOk(onB, ['team', 'create', 'other']);
    const stdoutFile = join(home.tmp(), 'stdout');
    const cmd = `cd ${home.cwd} && ${process.execPath} ${BIN} push big --to ${server.url} --team other > ${stdoutFile}`;
    const tty = spawnSync('script', ['-qec', cmd, '/dev/null'], { env: pusher.env, encoding: 'utf8' });
    expect(tty.error, 'script(1) from util-linux runs the push on a pty').toBeUndefined();
    expect(tty.status, tty.stdout + tty.stderr).toBe(0);
    expect(readFileSync(stdoutFile, 'utf8')).toMatch(/^pushed 1 experiment\(s\) to .*: 4 version\(s\)/);
    expect(tty.stdout).toContain('push big [');
    expect(tty.stdout).toContain(`big: created, ${total} version(s)`);
    const inLocal = json<TargetShow>(await cliOk(onB, ['show', 'big', '--team', 'local', '--json']));
    expect(inLocal).toEqual(target);
    const inOther = json<TargetShow>(await cliOk(onB, ['show', 'big', '--team', 'other', '--json']));
    expectSameShow(source, inOther, { from: 'local', team: 'other' });
  });
});

describe('run --offline, then push --pending', () => {
  it('captures here with a marker, experiments lists it as not pushed, push --pending sends it and clears it', async () => {
    let server = await startServer();
    const home = box();
    await cliOk(home, ['login', server.url, '--token', server.token]);
    writeFileSync(join(home.cwd, 'step.js'), STEP);
    const dirOf = (key: string) => {
      const d = join(home.tmp(), key);
      mkdirSync(d);
      writeFileSync(join(d, 'w.bin'), randomBytes(300_000));
      return d;
    };
    const run = (key: string, extra: string[]) => {
      const dir = dirOf(key);
      return cli(home, [
        'run',
        ...extra,
        '-e',
        key,
        '-c',
        `${dir}:out`,
        '--',
        process.execPath,
        'step.js',
        'note',
        '',
        '',
        dir,
        key,
      ]);
    };
    const markers = () => listFiles(join(home.home, 'pending'));

    // --offline with the deployment up: captured into this home's embedded backend, not into the deployment.
    const r1 = await run('off1', ['--offline']);
    expect(r1.code, r1.stderr).toBe(0);
    expect(r1.stderr).toContain('--offline: capturing into the embedded backend of this machine');
    expect(markers()).toEqual(['off1.json']);
    expect(JSON.parse(readFileSync(join(home.home, 'pending', 'off1.json'), 'utf8'))).toMatchObject({
      key: 'off1',
      to: server.url,
    });
    expect(await remoteShow(server, 'off1')).toBeNull();
    const listed = json<{ experiments: { key: string }[]; pendingPush: { key: string; to: string }[] }>(
      await cliOk(home, ['experiments', '--json']),
    );
    expect(listed.experiments).toEqual([]);
    expect(listed.pendingPush).toMatchObject([{ key: 'off1', to: server.url }]);
    const table = await cliOk(home, ['experiments']);
    expect(table.stderr).toContain('not pushed yet: off1 (studio-lite push --pending)');

    // offline: auto, the deployment down: the run captures here too.
    await server.stop();
    writeFileSync(join(home.home, 'config.yaml'), 'offline: auto\n');
    const r2 = await run('off2', []);
    expect(r2.code, r2.stderr).toBe(0);
    expect(r2.stderr).toContain('does not answer (offline: auto)');
    expect(markers()).toEqual(['off1.json', 'off2.json']);
    const away = await cliOk(home, ['experiments']);
    expect(away.stderr).toContain('does not answer');
    expect(away.stdout).toMatch(/off1 \(not pushed\)/);
    expect(away.stdout).toMatch(/off2 \(not pushed\)/);

    // The deployment is back: push --pending (no --to: the markers name it) sends both and clears the markers.
    server = await startServer(server);
    const out = await pushJson(home, ['--pending']);
    expect(out).toMatchObject({ from: 'local', to: server.url, experiments: 2, upToDate: 0 });
    expect(out.results.map((x) => [x.source, x.outcome])).toEqual([
      ['off1', 'pushed'],
      ['off2', 'pushed'],
    ]);
    expect(markers()).toEqual([]);
    const after = json<{ experiments: { key: string }[]; pendingPush: unknown[] }>(
      await cliOk(home, ['experiments', '--json']),
    );
    expect(after.pendingPush).toEqual([]);
    expect(after.experiments.map((e) => e.key).sort()).toEqual(['off1', 'off2']);
    expect((await pushJson(home, ['--pending'])).results).toEqual([]);

    // What the deployment holds is what was captured here (read here once logged out: the embedded backend).
    const onB = clientOf(server);
    await cliOk(home, ['logout']);
    for (const k of ['off1', 'off2']) {
      expectSameShow(await showJson(home, k), (await showJson(onB, k)) as TargetShow, { from: 'local' });
    }
  });
});
