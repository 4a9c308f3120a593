// Helpers for the CLI end-to-end tests: every test runs the real bundled binary (cli/bin/studio-lite.js, built by the
// e2e globalSetup) as a child process, with its own $STUDIOML_HOME and working directory in temp folders.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { afterEach } from 'vitest';

export const REPO = fileURLToPath(new URL('../../../', import.meta.url));
export const BIN = join(REPO, 'cli', 'bin', 'studio-lite.js');
export const EXAMPLES = join(REPO, 'examples', 'linear-regression');
export const NODE_HELPERS = join(REPO, 'cli', 'helpers', 'artifacts.mjs');

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A temp home and a temp working directory, both removed after the test. */
export interface Sandbox {
  home: string;
  cwd: string;
  /** Another temp folder (e.g. for pulls or data that must stay out of the workspace). */
  tmp(): string;
  env: NodeJS.ProcessEnv;
}

/** A sandbox the caller removes with `removeSandbox` (for one shared by several tests: beforeAll/afterAll). */
export function makeSandbox(): Sandbox & { dirs: string[] } {
  const dirs: string[] = [];
  const mk = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  const home = mk('sl-e2e-home-');
  const cwd = mk('sl-e2e-cwd-');
  return { home, cwd, tmp: () => mk('sl-e2e-tmp-'), env: cliEnv(home), dirs };
}

/**
 * The one privacy assertion of the e2e suite: nothing under a $STUDIOML_HOME the CLI used may be readable, writable
 * or traversable by group or others (`find HOME -perm /077` is empty), whatever the umask the test ran under.
 */
export function assertPrivateHome(home: string): void {
  if (!existsSync(home)) return;
  // Symbolic links are left out: their mode is always 777 on Linux and is never used (a materialized artifact may
  // hold links, e.g. a reused version's).
  const loose = execFileSync('find', [home, '!', '-type', 'l', '-perm', '/077', '-printf', '%m %p\\n'], {
    encoding: 'utf8',
  }).trim();
  if (loose) throw new Error(`files under $STUDIOML_HOME are not private (find -perm /077):\n${loose}`);
}

/** Asserts every home among `dirs` is private, then removes them all (also when the assertion fails). */
function cleanUp(dirs: string[]): void {
  const all = dirs.splice(0);
  try {
    for (const d of all) if (d.includes('sl-e2e-home-')) assertPrivateHome(d);
  } finally {
    for (const d of all) rmSync(d, { recursive: true, force: true });
  }
}

export function removeSandbox(sb: { dirs: string[] } | undefined): void {
  cleanUp(sb?.dirs ?? []);
}

/** Registers afterEach cleanup; call at the top level of a test file, then `sandbox()` inside each test. */
export function useSandboxes(): () => Sandbox {
  const dirs: string[] = [];
  afterEach(() => cleanUp(dirs));
  const mk = (prefix: string) => {
    const d = mkdtempSync(join(tmpdir(), prefix));
    dirs.push(d);
    return d;
  };
  return () => {
    const home = mk('sl-e2e-home-');
    const cwd = mk('sl-e2e-cwd-');
    return { home, cwd, tmp: () => mk('sl-e2e-tmp-'), env: cliEnv(home) };
  };
}

/** The test process environment minus anything that would point the CLI elsewhere, plus the temp home. */
export function cliEnv(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const k of Object.keys(env)) {
    if (k.startsWith('STUDIOML_') || k === 'PYTHONPATH') delete env[k];
  }
  env.STUDIOML_HOME = home;
  return env;
}

/** Starts the CLI (no shell). */
export function startCli(sb: Pick<Sandbox, 'cwd' | 'env'>, args: string[]): ChildProcess {
  return spawn(process.execPath, [BIN, ...args], { cwd: sb.cwd, env: sb.env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** Collects the output of a started CLI until it exits. */
export function collect(child: ChildProcess): Promise<CliResult> & { stdoutSoFar(): string } {
  let stdout = '';
  let stderr = '';
  child.stdout?.setEncoding('utf8').on('data', (s: string) => {
    stdout += s;
  });
  child.stderr?.setEncoding('utf8').on('data', (s: string) => {
    stderr += s;
  });
  const done = new Promise<CliResult>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return Object.assign(done, { stdoutSoFar: () => stdout });
}

/** Runs the CLI to completion. */
export function cli(sb: Pick<Sandbox, 'cwd' | 'env'>, args: string[]): Promise<CliResult> {
  return collect(startCli(sb, args));
}

/** Runs the CLI and expects exit 0 (prints its output otherwise). */
export async function cliOk(sb: Pick<Sandbox, 'cwd' | 'env'>, args: string[]): Promise<CliResult> {
  const r = await cli(sb, args);
  if (r.code !== 0) {
    throw new Error(`studio-lite ${args.join(' ')} exited ${r.code}\n--stdout--\n${r.stdout}\n--stderr--\n${r.stderr}`);
  }
  return r;
}

export interface VersionJson {
  version: number;
  files: number;
  bytes: number;
  manifestSha256: string;
  stats: { hashedFiles: number; hashedBytes: number; uploadedBlobs: number; uploadedBytes: number; skipped: string[] };
}
export interface ArtifactJson {
  tag: string;
  mutable: boolean;
  latestVersion: number;
  versions: VersionJson[];
}
export interface ExperimentJson {
  key: string;
  project: string | null;
  status: string;
  exitCode: number | null;
  signal: string | null;
  command: string[];
  warnings: string[];
  lineage: { as: string; experiment: string; tag: string; version: number }[];
  attempt?: number;
  attempts?: {
    attempt: number;
    status: string;
    command: string[];
    exitCode: number | null;
    lastSeenAt: string | null;
  }[];
  lastSeenAt?: string | null;
}
export interface ShowJson {
  experiment: ExperimentJson;
  artifacts: ArtifactJson[];
}
export interface PullJson {
  experiment: string;
  tag: string;
  dest: string;
  version: number;
  files: number;
  bytes: number;
  downloadedBlobs: number;
  downloadedBytes: number;
  cachedBlobs: number;
}

export async function showJson(sb: Pick<Sandbox, 'cwd' | 'env'>, key: string): Promise<ShowJson> {
  return JSON.parse((await cliOk(sb, ['show', key, '--json'])).stdout) as ShowJson;
}

export async function experimentsJson(
  sb: Pick<Sandbox, 'cwd' | 'env'>,
  extra: string[] = [],
): Promise<(ExperimentJson & { artifacts: { tag: string; latestVersion: number }[] })[]> {
  return JSON.parse((await cliOk(sb, ['experiments', '--json', ...extra])).stdout).experiments;
}

export async function pullJson(sb: Pick<Sandbox, 'cwd' | 'env'>, ref: string, dest: string, extra: string[] = []) {
  return JSON.parse((await cliOk(sb, ['pull', ref, '-o', dest, '--json', ...extra])).stdout) as PullJson;
}

export function artifact(show: ShowJson, tag: string): ArtifactJson {
  const a = show.artifacts.find((x) => x.tag === tag);
  if (!a)
    throw new Error(`no artifact ${tag} in ${show.experiment.key}: ${show.artifacts.map((x) => x.tag).join(', ')}`);
  return a;
}

export const sha256 = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');
export const sha256File = (file: string) => sha256(readFileSync(file));

/** Every regular file below `dir` (relative paths, '/'-separated, sorted); [] when `dir` is missing. */
export function listFiles(dir: string): string[] {
  let entries: import('node:fs').Dirent[];
  try {
    entries = readdirSync(dir, { withFileTypes: true, recursive: true });
  } catch {
    return [];
  }
  return entries
    .filter((e) => e.isFile())
    .map((e) =>
      join(e.parentPath, e.name)
        .slice(dir.length + 1)
        .split('\\')
        .join('/'),
    )
    .sort();
}

/** Files under `teams/<team>/<kind>` of every team in the local store ($STUDIOML_HOME/store). */
function storeFiles(home: string, kind: 'blobs' | 'packs'): string[] {
  const teams = join(home, 'store', 'teams');
  let names: string[] = [];
  try {
    names = readdirSync(teams);
  } catch {
    return [];
  }
  return names.flatMap((t) => listFiles(join(teams, t, kind)).map((p) => join(teams, t, kind, p)));
}

/** Blob files (blobs of their own: over 256 KiB, and manifests) of every team in the local store. */
export const storeBlobFiles = (home: string): string[] => storeFiles(home, 'blobs');

/** Every pack object of the embedded store (small blobs live in packs: functions/src/core/packs.ts). */
export const storePackFiles = (home: string): string[] => storeFiles(home, 'packs');

/** The blob records of the embedded backend's metadata file: every blob it holds, loose or in a pack. */
export function recordedBlobs(home: string): { sha256: string; size: number; packId: string | null }[] {
  const db = new Database(join(home, 'db', 'studio.sqlite'), { readonly: true });
  try {
    return db.prepare('SELECT sha256, size, pack_id AS packId FROM blobs').all() as {
      sha256: string;
      size: number;
      packId: string | null;
    }[];
  } finally {
    db.close();
  }
}

/** The stored manifest JSON of a version (manifests are blobs in the team store). */
export function storedManifest(
  home: string,
  manifestSha256: string,
): {
  files: { path: string; sha256: string; size: number }[];
  links: { path: string; target: string }[];
} {
  const file = storeBlobFiles(home).find((f) => f.endsWith(`/${manifestSha256}`));
  if (!file) throw new Error(`manifest ${manifestSha256} not in the store`);
  return JSON.parse(readFileSync(file, 'utf8'));
}

/** Waits until `pred()` is true, polling. */
export async function waitFor(pred: () => boolean, what: string, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!pred()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** A one-line `studio-lite: E_CODE: message` error (a hint line may follow) and no stack trace. */
export function errorLine(stderr: string): { code: string; message: string } {
  const lines = stderr.split('\n').filter((l) => l.startsWith('studio-lite:'));
  if (lines.length !== 1) throw new Error(`expected exactly one "studio-lite:" line on stderr, got:\n${stderr}`);
  const m = /^studio-lite: (E_[A-Z_]+): (.+)$/.exec(lines[0] as string);
  if (!m) throw new Error(`not a "studio-lite: E_CODE: message" line: ${lines[0]}`);
  if (/\n\s+at /.test(stderr) || stderr.includes('unexpected error'))
    throw new Error(`stack trace on stderr:\n${stderr}`);
  return { code: m[1] as string, message: m[2] as string };
}

/** A TCP port that was free a moment ago on 127.0.0.1 (for `studio-lite serve`). */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

/** A script that writes into its `ckpt` artifact, prints READY, then sleeps (for SIGINT/SIGTERM tests). */
export const SLEEPER = [
  'import os, time',
  'from studio import fs_tracker',
  "d = fs_tracker.get_artifact('ckpt')",
  "with open(os.path.join(d, 'before-signal.txt'), 'w') as f:",
  "    f.write('written before the signal\\n')",
  "print('READY', flush=True)",
  'time.sleep(60)',
  "print('NOT REACHED', flush=True)",
].join('\n');
