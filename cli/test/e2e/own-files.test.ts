// Issue 10: pulled and reused files are the user's own. Whatever a user (root or not) does to a pulled file, or to a
// cache file behind the CLI's back, every later pull and reuse hands out the captured bytes.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CacheInfoJson, CachePruneJson } from '../../src/commands/cache/cache-command.ts';
import {
  BIN,
  type CliResult,
  collect,
  errorLine,
  listFiles,
  type PullJson,
  type Sandbox,
  useSandboxes,
} from './helpers.ts';

const sandbox = useSandboxes();

const isRoot = process.getuid?.() === 0;
const hasRunuser = spawnSync('runuser', ['--help']).status === 0;
/** The machine runs as root: every scenario runs as root and as `nobody` (skipped, with the reason, elsewhere). */
const USERS: [string, string | null][] = [
  ['root', null],
  ['nobody', 'nobody'],
];

interface Runner {
  sb: Sandbox;
  user: string | null;
  /** The CLI as the user. */
  cli(args: string[]): Promise<CliResult>;
  ok(args: string[]): Promise<CliResult>;
  /** A shell command as the user (what a user or their script does to pulled files). */
  sh(script: string): Promise<CliResult>;
}

function runner(user: string | null): Runner {
  const sb = sandbox();
  const dirs = [sb.home, sb.cwd];
  const tmp = sb.tmp;
  sb.tmp = () => {
    const d = tmp();
    if (user) chownSync(d, 65534, 65534);
    return d;
  };
  if (user) for (const d of dirs) chownSync(d, 65534, 65534);
  const wrap = (argv: string[]) =>
    user
      ? ['runuser', ['-u', user, '--', 'env', `STUDIOML_HOME=${sb.home}`, `PATH=${process.env.PATH}`, ...argv]]
      : [argv[0] as string, argv.slice(1)];
  const run = (argv: string[]) => {
    const [cmd, args] = wrap(argv) as [string, string[]];
    return collect(spawn(cmd, args, { cwd: sb.cwd, env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] }));
  };
  const must = async (p: Promise<CliResult>, what: string) => {
    const r = await p;
    if (r.code !== 0) throw new Error(`${what} exited ${r.code}\n${r.stdout}\n${r.stderr}`);
    return r;
  };
  return {
    sb,
    user,
    cli: (args) => run([process.execPath, BIN, ...args]),
    ok: (args) => must(run([process.execPath, BIN, ...args]), `studio-lite ${args.join(' ')}`),
    sh: (script) => must(run(['sh', '-c', script]), script),
  };
}

const FILES = (): Record<string, Buffer> => ({
  'ckpt.txt': Buffer.from('weights v1\n'),
  'secret.key': randomBytes(32),
  'big.bin': randomBytes(300_000),
  'sub/notes.txt': Buffer.from('notes\n'),
});

/** Captures FILES as e1/w and returns them. */
async function captured(r: Runner): Promise<Record<string, Buffer>> {
  const files = FILES();
  const data = join(r.sb.tmp(), 'data');
  mkdirSync(join(data, 'sub'), { recursive: true });
  for (const [rel, buf] of Object.entries(files)) writeFileSync(join(data, rel), buf);
  if (r.user) spawnSync('chown', ['-R', `${r.user}:`, data]);
  await r.sh(`chmod 0600 ${data}/secret.key`);
  await r.ok(['run', '-q', '-c', `${data}:w`, '-e', 'e1', '--', 'true']);
  return files;
}

function expectOriginal(dir: string, files: Record<string, Buffer>): void {
  expect(listFiles(dir)).toEqual(Object.keys(files).sort());
  for (const [rel, buf] of Object.entries(files)) expect(readFileSync(join(dir, rel)).equals(buf), rel).toBe(true);
}

const pullJson = async (r: Runner, args: string[]) => JSON.parse((await r.ok([...args, '--json'])).stdout) as PullJson;
const warnings = (stderr: string) => stderr.split('\n').filter((l) => l.includes('changed behind'));
const blobFiles = (home: string) =>
  readdirSync(join(home, 'blobcache', 'sha256'), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name));

describe.each(USERS)('files handed out are the user own (as %s)', (_name, user) => {
  const skip = user !== null && !(isRoot && hasRunuser) ? 'needs root and runuser to switch users' : false;
  beforeAll(() => {
    if (skip || user === null) return;
    // A checkout under a folder other users cannot enter (a clone inside `mktemp -d`, 0700) makes every scenario fail
    // with an unreadable module; say that once instead.
    const r = spawnSync(
      'runuser',
      ['-u', user, '--', process.execPath, '-e', `require('fs').accessSync(${JSON.stringify(BIN)})`],
      {
        env: process.env,
        encoding: 'utf8',
      },
    );
    if (r.status !== 0) {
      throw new Error(
        `${user} cannot run the CLI from this checkout (${BIN}): a folder above it is not searchable by other users, ` +
          `e.g. a clone inside a 0700 \`mktemp -d\`. Clone it where others can enter (chmod o+x its parents).\n${r.stderr}`,
      );
    }
  });

  it.skipIf(skip)(
    'edit, truncate, chmod and replace a pulled file: later pulls and reuses get the original',
    async () => {
      const r = runner(user);
      const files = await captured(r);
      const out = r.sb.tmp();
      await pullJson(r, ['pull', 'e1/w', '-o', join(out, 'p1')]);
      expectOriginal(join(out, 'p1'), files);
      // The captured mode, owned by whoever pulled: a 0600 key stays private, the rest is writable by its owner.
      expect(statSync(join(out, 'p1', 'secret.key')).mode & 0o7777).toBe(0o600);
      expect(statSync(join(out, 'p1', 'ckpt.txt')).mode & 0o7777).toBe(0o644);
      expect(statSync(join(out, 'p1', 'ckpt.txt')).uid).toBe(user ? 65534 : 0);

      // What a training script (np.save and friends) or the user does; no PermissionError for a non-root user either.
      const p1 = join(out, 'p1');
      await r.sh(
        `echo changed > ${p1}/ckpt.txt && truncate -s 10 ${p1}/big.bin && chmod 0644 ${p1}/secret.key && ` +
          `rm ${p1}/sub/notes.txt && echo replaced > ${p1}/sub/notes.txt`,
      );

      await pullJson(r, ['pull', 'e1/w', '-o', join(out, 'p2')]);
      expectOriginal(join(out, 'p2'), files);
      expect(statSync(join(out, 'p2', 'secret.key')).mode & 0o7777).toBe(0o600);
      await pullJson(r, ['pull', 'e1/w@1', '--copy', '-o', join(out, 'p3')]);
      expectOriginal(join(out, 'p3'), files);

      // Two runs reusing it: each sees the original, although the first one rewrote its copy.
      const reuse =
        'cat "$STUDIOML_ARTIFACT_W/ckpt.txt" > "seen-$STUDIOML_EXPERIMENT"; echo hacked > "$STUDIOML_ARTIFACT_W/ckpt.txt"';
      await r.ok(['run', '-q', '--reuse=e1/w:w', '-e', 'r1', '--', 'sh', '-c', reuse]);
      await r.ok(['run', '-q', '--reuse=e1/w:w', '-e', 'r2', '--', 'sh', '-c', reuse]);
      expect(readFileSync(join(r.sb.cwd, 'seen-r1'), 'utf8')).toBe('weights v1\n');
      expect(readFileSync(join(r.sb.cwd, 'seen-r2'), 'utf8')).toBe('weights v1\n');

      // Back into the edited folder: refused (exit 2, nothing changed) without --force, restored with it.
      const before = readFileSync(join(p1, 'ckpt.txt'), 'utf8');
      const refused = await r.cli(['pull', 'e1/w', '-o', p1]);
      expect(refused.code, refused.stderr).toBe(2);
      expect(errorLine(refused.stderr).code).toBe('E_DEST_EXISTS');
      // secret.key has its bytes but not its mode (0644 instead of 0600): it differs too.
      expect(refused.stderr).toMatch(
        /4 file\(s\) in .* differ from the artifact: "big.bin", "ckpt.txt", "secret.key", "sub\/notes.txt"/,
      );
      expect(readFileSync(join(p1, 'ckpt.txt'), 'utf8')).toBe(before);
      await r.ok(['pull', 'e1/w', '-o', p1, '--force']);
      expectOriginal(p1, files);
      expect(statSync(join(p1, 'secret.key')).mode & 0o7777).toBe(0o600);
      // Identical files need no --force: pulling the same version again is a no-op.
      await r.ok(['pull', 'e1/w', '-o', p1]);
    },
  );

  it.skipIf(skip)(
    'link opt-in: a write through a linked file is caught, quarantined with one warning, re-fetched',
    async () => {
      const r = runner(user);
      writeFileSync(join(r.sb.home, 'config.yaml'), 'materialize: link\n');
      if (user) chownSync(join(r.sb.home, 'config.yaml'), 65534, 65534);
      const files = await captured(r);
      const out = r.sb.tmp();
      const l1 = join(out, 'l1');
      await pullJson(r, ['pull', 'e1/w', '-o', l1]);
      expectOriginal(l1, files);
      expect(statSync(join(l1, 'ckpt.txt')).nlink).toBeGreaterThan(1);
      // Same size, mtime put back: only the ctime tells. (A non-root user has to chmod first, root does not.)
      const mtime = Math.floor(statSync(join(l1, 'ckpt.txt')).mtimeMs / 1000);
      await r.sh(
        `f=${l1}/ckpt.txt; ${user ? 'chmod u+w $f; ' : ''}printf 'WEIGHTS v1\\n' > $f; touch -m -d @${mtime} $f`,
      );

      const info = JSON.parse((await r.ok(['cache', 'info', '--json'])).stdout) as CacheInfoJson;
      expect(info.blobCache.changedBlobs).toBe(1);
      const l2 = await r.ok(['pull', 'e1/w', '-o', join(out, 'l2'), '--json']);
      expect(warnings(l2.stderr)).toHaveLength(1);
      expect((JSON.parse(l2.stdout) as PullJson).downloadedBlobs).toBe(1);
      expectOriginal(join(out, 'l2'), files);
      // The user's folder keeps what they wrote.
      expect(readFileSync(join(l1, 'ckpt.txt'), 'utf8')).toBe('WEIGHTS v1\n');

      const after = JSON.parse((await r.ok(['cache', 'info', '--json'])).stdout) as CacheInfoJson;
      expect(after.blobCache).toMatchObject({ changedBlobs: 0, quarantined: 1 });
      const pruned = JSON.parse((await r.ok(['cache', 'prune', '--json'])).stdout) as CachePruneJson;
      expect(pruned.blobCache).toMatchObject({ quarantined: 0, removedQuarantine: 1 });
    },
  );

  it.skipIf(skip)(
    'a cache file rewritten behind the CLI is detected by pull and by cache prune, and re-fetched',
    async () => {
      const r = runner(user);
      const files = await captured(r);
      const out = r.sb.tmp();
      await pullJson(r, ['pull', 'e1/w', '-o', join(out, 'p1')]);
      const blobs = blobFiles(r.sb.home).sort();
      const ckptBlob = blobs.find((b) => statSync(b).size === files['ckpt.txt']?.length) as string;
      await r.sh(`chmod u+w ${ckptBlob} && printf 'tampered!!\\n' > ${ckptBlob} && chmod 0444 ${ckptBlob}`);

      const info = JSON.parse((await r.ok(['cache', 'info', '--json'])).stdout) as CacheInfoJson;
      expect(info.blobCache.changedBlobs).toBe(1);
      const p2 = await r.ok(['pull', 'e1/w', '-o', join(out, 'p2'), '--json']);
      expect(warnings(p2.stderr)).toHaveLength(1);
      expect((JSON.parse(p2.stdout) as PullJson).downloadedBlobs).toBe(1);
      expectOriginal(join(out, 'p2'), files);

      // Behind the CLI again, this time found by `cache prune`; the next pull downloads it.
      const bigBlob = blobs.find((b) => statSync(b).size === 300_000) as string;
      await r.sh(`chmod u+w ${bigBlob} && printf X | dd of=${bigBlob} bs=1 seek=1000 conv=notrunc 2>/dev/null`);
      const pruned = JSON.parse((await r.ok(['cache', 'prune', '--json'])).stdout) as CachePruneJson;
      expect(pruned.blobCache).toMatchObject({ rehashed: 1, quarantined: 1 });
      const p3 = await pullJson(r, ['pull', 'e1/w', '-o', join(out, 'p3')]);
      expect(p3.downloadedBlobs).toBe(1);
      expectOriginal(join(out, 'p3'), files);
    },
  );

  it.skipIf(skip).each(['default', 'copy', 'link'])(
    'resume training (pull -o weights, run -c ./weights:weights rewrites them) keeps both versions (%s)',
    async (mode) => {
      const r = runner(user);
      if (mode !== 'default') {
        writeFileSync(join(r.sb.home, 'config.yaml'), `materialize: ${mode}\n`);
        if (user) chownSync(join(r.sb.home, 'config.yaml'), 65534, 65534);
      }
      const files = await captured(r);
      await r.ok(['pull', 'e1/w', '-o', 'weights']);
      // Same sizes, so only content tells. A non-root script cannot open a linked (0444) file for writing; np.save
      // then replaces it, like `mv` here.
      const train =
        mode === 'link' && user
          ? "printf 'weights v2\\n' > w.tmp && mv -f w.tmp weights/ckpt.txt"
          : "printf 'weights v2\\n' > weights/ckpt.txt && printf X | dd of=weights/big.bin bs=1 seek=5 conv=notrunc 2>/dev/null";
      await r.ok(['run', '-q', '-c', './weights:weights', '-e', 'e2', '--', 'sh', '-c', train]);

      const out = r.sb.tmp();
      await r.ok(['pull', 'e1/w@1', '-o', join(out, 'v1')]);
      expectOriginal(join(out, 'v1'), files);
      await r.ok(['pull', 'e2/weights', '-o', join(out, 'v2')]);
      expect(readFileSync(join(out, 'v2', 'ckpt.txt'), 'utf8')).toBe('weights v2\n');
      expect(readFileSync(join(out, 'v2', 'secret.key')).equals(files['secret.key'] as Buffer)).toBe(true);
    },
  );
});
