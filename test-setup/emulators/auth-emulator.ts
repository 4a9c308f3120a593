import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

/**
 * Runs the Firebase Auth emulator of firebase-tools 14 offline (pure JavaScript, no download):
 * `firebase emulators:start --only auth` in a throwaway project folder, on free 127.0.0.1 ports. Its ID tokens are
 * unsigned (`alg: none`); its Identity Toolkit and securetoken endpoints live under
 * http://<host>/identitytoolkit.googleapis.com/v1 and http://<host>/securetoken.googleapis.com/v1.
 */
export interface AuthEmulator {
  /** `127.0.0.1:<port>`, the form FIREBASE_AUTH_EMULATOR_HOST expects. */
  host: string;
  /** The project its key-based requests (any `?key=`) act in: the `aud` of the tokens it issues. */
  projectId: string;
  /** Milliseconds from spawn to the first answered request. */
  startMs: number;
  stop(): Promise<void>;
}

const FIREBASE_TOOLS_MAJOR = '14.';
const READY_TIMEOUT_MS = 90_000;
const GUARD_PRELOAD = new URL('../network-guard-preload.mjs', import.meta.url).href;

function fail(message: string): never {
  throw new Error(`auth emulator: ${message}`);
}

function firebaseBin(): string {
  const require = createRequire(import.meta.url);
  let pkgPath: string;
  try {
    pkgPath = require.resolve('firebase-tools/package.json');
  } catch {
    fail('firebase-tools is not installed (expected devDependency firebase-tools@14; run npm ci)');
  }
  const { version } = JSON.parse(readFileSync(pkgPath, 'utf8')) as { version: string };
  if (!version.startsWith(FIREBASE_TOOLS_MAJOR)) fail(`firebase-tools ${version} found; 14.x is required`);
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

/** Starts the emulator for `projectId` (a demo-… id) and resolves once it answers; throws with the log tail otherwise. */
export async function startAuthEmulator(opts: { projectId?: string } = {}): Promise<AuthEmulator> {
  const projectId = opts.projectId ?? process.env.GOOGLE_CLOUD_PROJECT ?? 'demo-studio-lite';
  if (!projectId.startsWith('demo-')) fail(`project ${projectId}: use a demo-… project id so nothing real is touched`);
  const bin = firebaseBin();
  const dir = mkdtempSync(join(tmpdir(), 'sl-auth-emu-'));
  const [port, hubPort, loggingPort] = [await freePort(), await freePort(), await freePort()];
  writeFileSync(
    join(dir, 'firebase.json'),
    JSON.stringify({
      emulators: {
        auth: { host: '127.0.0.1', port },
        hub: { host: '127.0.0.1', port: hubPort },
        logging: { host: '127.0.0.1', port: loggingPort },
        ui: { enabled: false },
        // Admin calls (`Authorization: Bearer owner`) may address other projects without warnings.
        singleProjectMode: false,
      },
    }),
  );
  mkdirSync(join(dir, 'tmp'));
  mkdirSync(join(dir, 'config'));

  const started = Date.now();
  let log = '';
  const child = spawn(process.execPath, [bin, 'emulators:start', '--only', 'auth', '--project', projectId], {
    cwd: dir,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      TMPDIR: join(dir, 'tmp'),
      XDG_CONFIG_HOME: join(dir, 'config'),
      NO_UPDATE_NOTIFIER: '1',
      CI: '1',
      METADATA_SERVER_DETECTION: 'none',
      GCE_METADATA_HOST: '127.0.0.1:1',
      GOOGLE_CLOUD_PROJECT: projectId,
      // The CLI tries to fetch its message of the day; the guard refuses that (and anything else off-machine).
      NODE_OPTIONS: [process.env.NODE_OPTIONS, `--import=${GUARD_PRELOAD}`].filter(Boolean).join(' '),
    },
  });
  const append = (b: Buffer) => {
    log = (log + b.toString()).slice(-8000);
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);

  const host = `127.0.0.1:${port}`;
  const kill = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGINT');
    if (!(await waitForExit(child, 8000))) {
      child.kill('SIGKILL');
      await waitForExit(child, 2000);
    }
  };
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  const cleanUp = async () => {
    process.off('exit', onExit);
    await kill();
    rmSync(dir, { recursive: true, force: true });
  };

  const deadline = started + READY_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await cleanUp();
      fail(`firebase emulators:start exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${log}`);
    }
    const res = await fetch(`http://${host}/`).catch(() => null);
    if (
      res?.ok &&
      ((await res.json().catch(() => null)) as { authEmulator?: { ready?: boolean } } | null)?.authEmulator?.ready
    ) {
      break;
    }
    if (Date.now() > deadline) {
      await cleanUp();
      fail(`not ready on ${host} after ${READY_TIMEOUT_MS / 1000} s:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, projectId, startMs: Date.now() - started, stop: cleanUp };
}
