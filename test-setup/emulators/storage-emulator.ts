import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Runs the Cloud Storage emulator of firebase-tools 14.27.0 offline: `firebase emulators:start --only storage` in a
 * throwaway project folder. firebase-tools would download its rules-runtime JAR; instead STORAGE_EMULATOR_BINARY_PATH
 * points at a permissive stand-in built here with javac/jar and cached in the temp dir (storage rules are therefore
 * NOT evaluated). A real rules-runtime JAR is used when STORAGE_EMULATOR_BINARY_PATH already names one.
 */
export interface StorageEmulator {
  /** http://127.0.0.1:<port>, the value for STORAGE_EMULATOR_HOST. */
  host: string;
  /** Milliseconds from spawn to the first answered request. */
  startMs: number;
  stop(): Promise<void>;
}

const PROJECT_ID = 'demo-studio-lite';
const FIREBASE_TOOLS_MAJOR = '14.';
const READY_TIMEOUT_MS = 60_000;
const here = dirname(fileURLToPath(import.meta.url));
const STAND_IN_SOURCE = join(here, 'rules-runtime-stand-in.java');
const GUARD_PRELOAD = new URL('../network-guard-preload.mjs', import.meta.url).href;

function fail(message: string): never {
  throw new Error(`storage emulator: ${message}`);
}

function requireTool(cmd: string, why: string): void {
  const r = spawnSync(cmd, cmd === 'jar' ? ['--version'] : ['-version'], { stdio: 'ignore' });
  if (r.error)
    fail(
      `\`${cmd}\` was not found on PATH; it is needed to ${why}. Install a JDK (Java 11-20; Java 17 is expected here).`,
    );
}

/** The stand-in JAR, built once per source version into the temp dir. */
function standInJar(): string {
  if (!existsSync(STAND_IN_SOURCE)) fail(`missing ${STAND_IN_SOURCE}`);
  const source = readFileSync(STAND_IN_SOURCE);
  const digest = createHash('sha256').update(source).digest('hex').slice(0, 16);
  const cacheDir = join(tmpdir(), 'studio-lite-emulators');
  const jar = join(cacheDir, `rules-runtime-stand-in-${digest}.jar`);
  if (existsSync(jar)) return jar;
  requireTool(
    'javac',
    'compile the stand-in rules runtime (or set STORAGE_EMULATOR_BINARY_PATH to a rules-runtime JAR)',
  );
  requireTool('jar', 'package the stand-in rules runtime');
  mkdirSync(cacheDir, { recursive: true });
  const work = mkdtempSync(join(cacheDir, 'build-'));
  try {
    const run = (cmd: string, args: string[]) => {
      const r = spawnSync(cmd, args, { cwd: work, encoding: 'utf8' });
      if (r.status !== 0) fail(`\`${cmd} ${args.join(' ')}\` failed:\n${r.stderr || r.stdout}`);
    };
    mkdirSync(join(work, 'classes'));
    run('javac', ['--release', '11', '-d', 'classes', STAND_IN_SOURCE]);
    writeFileSync(join(work, 'manifest.txt'), 'Main-Class: RulesRuntimeStandIn\n');
    run('jar', ['cfm', 'stand-in.jar', 'manifest.txt', '-C', 'classes', '.']);
    // Atomic publish: concurrent runs may build the same JAR.
    renameSync(join(work, 'stand-in.jar'), jar);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return jar;
}

function firebaseBin(): string {
  const require = createRequire(import.meta.url);
  let pkgPath: string;
  try {
    pkgPath = require.resolve('firebase-tools/package.json');
  } catch {
    fail('firebase-tools is not installed (expected devDependency firebase-tools@14.27.0; run npm ci)');
  }
  const { version } = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string };
  if (!version.startsWith(FIREBASE_TOOLS_MAJOR)) {
    fail(`firebase-tools ${version} found; 14.x is required (15.x refuses Java < 21)`);
  }
  const bin = join(dirname(pkgPath), 'lib', 'bin', 'firebase.js');
  if (!existsSync(bin)) fail(`missing ${bin}`);
  return bin;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function waitForExit(child: ChildProcess, ms: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    child.once('exit', () => {
      clearTimeout(t);
      resolve(true);
    });
  });
}

/** Starts the emulator on free 127.0.0.1 ports and resolves once it answers; throws with the log tail otherwise. */
export async function startStorageEmulator(): Promise<StorageEmulator> {
  requireTool('java', 'run the storage emulator (firebase-tools starts its rules runtime with java)');
  const bin = firebaseBin();
  const jar = process.env.STORAGE_EMULATOR_BINARY_PATH || standInJar();
  if (!existsSync(jar)) fail(`STORAGE_EMULATOR_BINARY_PATH names a missing file: ${jar}`);

  const dir = mkdtempSync(join(tmpdir(), 'sl-storage-emu-'));
  const [port, hubPort, loggingPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'firebase.json'),
    JSON.stringify({
      storage: { rules: 'storage.rules' },
      emulators: {
        storage: { host: '127.0.0.1', port },
        hub: { host: '127.0.0.1', port: hubPort },
        logging: { host: '127.0.0.1', port: loggingPort },
        ui: { enabled: false },
      },
    }),
  );
  // The stand-in runtime does not read this; it exists because emulators:start requires a rules file.
  writeFileSync(
    join(dir, 'storage.rules'),
    "rules_version = '2';\nservice firebase.storage { match /b/{bucket}/o { match /{all=**} { allow read, write: if false; } } }\n",
  );
  mkdirSync(join(dir, 'tmp'));
  mkdirSync(join(dir, 'config'));

  const started = Date.now();
  let log = '';
  const child = spawn(process.execPath, [bin, 'emulators:start', '--only', 'storage', '--project', PROJECT_ID], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      STORAGE_EMULATOR_BINARY_PATH: jar,
      // Hub locator file, blob persistence and the CLI's config store stay inside this run's folder.
      TMPDIR: join(dir, 'tmp'),
      XDG_CONFIG_HOME: join(dir, 'config'),
      NO_UPDATE_NOTIFIER: '1',
      CI: '1',
      METADATA_SERVER_DETECTION: 'none',
      GCE_METADATA_HOST: '127.0.0.1:1',
      GOOGLE_CLOUD_PROJECT: PROJECT_ID,
      // The CLI tries to fetch its message of the day; the guard refuses that (and anything else off-machine).
      NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${GUARD_PRELOAD}`].filter(Boolean).join(' '),
    },
  });
  const append = (b: Buffer) => {
    log = (log + b.toString()).slice(-8000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);

  const host = `http://127.0.0.1:${port}`;
  // SIGINT is the CLI's clean shutdown; the rules runtime (real or stand-in) exits when its stdin pipe closes.
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    if (!(await waitForExit(child, 8000))) {
      child.kill('SIGKILL');
      await waitForExit(child, 2000);
    }
  };
  // If the test runner dies without teardown, do not leave the emulator behind.
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);

  const deadline = started + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      process.off('exit', onExit);
      rmSync(dir, { recursive: true, force: true });
      fail(`firebase emulators:start exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${log}`);
    }
    const res = await fetch(`${host}/b`).catch(() => null);
    if (res) {
      await res.body?.cancel();
      break;
    }
    if (Date.now() > deadline) {
      process.off('exit', onExit);
      await kill();
      rmSync(dir, { recursive: true, force: true });
      fail(`not ready on ${host} after ${READY_TIMEOUT_MS / 1000} s:\n${log}`);
    }
    await sleep(50);
  }
  const startMs = Date.now() - started;

  return {
    host,
    startMs,
    async stop() {
      process.off('exit', onExit);
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
