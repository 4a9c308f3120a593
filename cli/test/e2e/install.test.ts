// The CLI as a user installs it: `npm pack -w cli` at the repository root, `npm install -g` of the tarball into an
// empty prefix, then the installed binary runs a Python script that imports `studio.fs_tracker`, from a folder
// outside the repository. Slow (npm may build better-sqlite3 from source): one file, one install, several checks.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliEnv, REPO, type ShowJson } from './helpers.ts';

/** npm itself must reach the registry (or its cache): without the test network guard that NODE_OPTIONS preloads. */
function npmEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_OPTIONS;
  return env;
}

const dirs: string[] = [];
const mk = (prefix: string) => {
  const d = mkdtempSync(join(tmpdir(), prefix));
  dirs.push(d);
  return d;
};
let tarball = '';
let prefix = '';
const version = (
  JSON.parse(
    execFileSync('node', ['-p', 'JSON.stringify(require("./cli/package.json"))'], { cwd: REPO, encoding: 'utf8' }),
  ) as { version: string }
).version;

beforeAll(() => {
  const packDir = mk('sl-pack-');
  execFileSync('npm', ['pack', '-w', 'cli', '--pack-destination', packDir], {
    cwd: REPO,
    env: npmEnv(),
    stdio: 'pipe',
  });
  tarball = join(packDir, `studio-lite-${version}.tgz`);
  prefix = mk('sl-prefix-');
  const r = spawnSync(
    'npm',
    ['install', '-g', '--prefix', prefix, '--prefer-offline', '--no-audit', '--no-fund', tarball],
    { cwd: mk('sl-npm-cwd-'), env: npmEnv(), encoding: 'utf8' },
  );
  if (r.status !== 0) throw new Error(`npm install -g failed (${r.status}):\n${r.stdout}\n${r.stderr}`);
}, 600_000);

afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** The installed binary, found through PATH like a user's shell would. */
function installed(cwd: string, home: string, args: string[]) {
  const env = cliEnv(home);
  env.PATH = `${join(prefix, 'bin')}:${env.PATH}`;
  return spawnSync('studio-lite', args, { cwd, env, encoding: 'utf8' });
}

describe('npm pack + npm install -g', () => {
  it('ships the bundle, the Python package and nothing else (no tests, benchmarks, source maps)', () => {
    const all = execFileSync('tar', ['tzf', tarball], { encoding: 'utf8' }).trim().split('\n').sort();
    // The bundle's lazily loaded chunks (one per command and the backend's parts): code only, no maps.
    const chunks = all.filter((f) => /^package\/dist\/chunk-[A-Z0-9]+\.js$/.test(f));
    expect(chunks.length).toBeGreaterThan(0);
    const files = all.filter((f) => !chunks.includes(f));
    expect(files).toEqual(
      [
        'package/bin/studio-lite.js',
        'package/dist/hash-worker.js',
        'package/dist/local-host-worker.js',
        'package/dist/studio-lite.js',
        'package/helpers/artifacts.d.mts',
        'package/helpers/artifacts.mjs',
        'package/package.json',
        'package/python/studio/__init__.py',
        'package/python/studio/fs_tracker.py',
      ].sort(),
    );
    const pkg = JSON.parse(execFileSync('tar', ['xzOf', tarball, 'package/package.json'], { encoding: 'utf8' }));
    // Everything else is bundled; a private workspace package here is the E404 a user would get.
    expect(Object.keys(pkg.dependencies)).toEqual(['better-sqlite3']);
  });

  it('runs a script that imports studio.fs_tracker from a folder outside the repository', () => {
    const home = mk('sl-inst-home-');
    const project = mk('sl-inst-project-');
    mkdirSync(join(project, 'out'));
    writeFileSync(
      join(project, 'train.py'),
      [
        'import os',
        'from studio import fs_tracker',
        "out = fs_tracker.get_artifact('out')",
        "open(os.path.join(out, 'weights.txt'), 'w').write('w=1\\n')",
        "print('trained into', os.path.basename(out))",
      ].join('\n'),
    );
    const run = installed(project, home, ['run', '-e', 'inst1', '--capture', 'out:out', 'train.py']);
    expect(run.stderr).not.toContain('ModuleNotFoundError');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('trained into out');
    const show = JSON.parse(installed(project, home, ['show', 'inst1', '--json']).stdout) as ShowJson;
    const out = show.artifacts.find((a) => a.tag === 'out');
    expect(out?.versions.at(-1)?.files).toBe(1);
    const pulled = join(mk('sl-inst-pull-'), 'w');
    expect(installed(project, home, ['pull', 'inst1/out', '-o', pulled]).status).toBe(0);
    expect(readdirSync(pulled)).toEqual(['weights.txt']);
  });

  it('answers --version and doctor from the installed package', () => {
    const home = mk('sl-inst-home-');
    const cwd = mk('sl-inst-cwd-');
    const v = installed(cwd, home, ['--version']);
    expect(v.stdout.trim()).toBe(version);
    const doctor = installed(cwd, home, ['doctor', '--json']);
    expect(doctor.status).toBe(0);
    const checks = JSON.parse(doctor.stdout).checks as { name: string; status: string; detail: string }[];
    const python = checks.find((c) => c.name === 'python3');
    expect(python?.status).toBe('ok');
    // The studio package is found inside the installed package, not in the checkout.
    expect(python?.detail).toContain(join(prefix, 'lib', 'node_modules', 'studio-lite', 'python'));
  });
});
