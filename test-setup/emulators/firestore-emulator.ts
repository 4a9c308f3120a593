import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';

/** The preinstalled google-cloud-cli emulator (see shared/OFFLINE.md beside the repository); FIRESTORE_EMULATOR_JAR overrides it. */
export const DEFAULT_FIRESTORE_JAR =
  '/usr/lib/google-cloud-sdk/platform/cloud-firestore-emulator/cloud-firestore-emulator.jar';
const MAIN_CLASS = 'com.google.cloud.datastore.emulator.firestore.CloudFirestore';
const READY_TIMEOUT_MS = 30_000;

export interface FirestoreEmulator {
  /** `127.0.0.1:<port>`, the form FIRESTORE_EMULATOR_HOST expects. */
  host: string;
  stop(): Promise<void>;
}

/** Starts the Firestore emulator JAR on a free loopback port; resolves once it answers `Ok`. Throws if absent. */
export async function startFirestoreEmulator(opts: { rulesFile?: string } = {}): Promise<FirestoreEmulator> {
  const java = findJava();
  const jar = process.env.FIRESTORE_EMULATOR_JAR ?? DEFAULT_FIRESTORE_JAR;
  if (!existsSync(jar)) {
    throw new Error(
      `Firestore emulator JAR missing: ${jar} does not exist (install the google-cloud-cli ` +
        'cloud-firestore-emulator component, or set FIRESTORE_EMULATOR_JAR)',
    );
  }
  if (opts.rulesFile !== undefined && !existsSync(opts.rulesFile)) {
    throw new Error(`Firestore rules file missing: ${opts.rulesFile}`);
  }
  const port = await freePort();
  const args = ['-Duser.language=en', '-cp', jar, MAIN_CLASS, '--host=127.0.0.1', `--port=${port}`];
  if (opts.rulesFile !== undefined) args.push(`--rules=${opts.rulesFile}`);
  // Own process group, so stop() also reaches any children the JVM starts.
  const child = spawn(java, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  const keep = (chunk: Buffer) => {
    output = (output + chunk.toString('utf8')).slice(-4000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<string>((resolve) => {
    child.once('exit', (code, signal) => resolve(`exited (${signal ?? `code ${code}`})`));
    child.once('error', (err) => resolve(`failed to start (${err.message})`));
  });

  const host = `127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let state: string | undefined;
  void exited.then((s) => {
    state = s;
  });
  while (!(await isReady(host))) {
    if (state !== undefined || Date.now() > deadline) {
      await kill(child, exited);
      const why = state ?? `not ready after ${READY_TIMEOUT_MS / 1000} s`;
      throw new Error(
        `Firestore emulator on ${host} ${why}; last output:\n${output.trim().split('\n').slice(-15).join('\n')}`,
      );
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { host, stop: () => kill(child, exited) };
}

function findJava(): string {
  const candidates: string[] = [];
  if (process.env.JAVA_HOME) candidates.push(join(process.env.JAVA_HOME, 'bin', 'java'));
  for (const dir of (process.env.PATH ?? '').split(delimiter)) if (dir) candidates.push(join(dir, 'java'));
  const found = candidates.find((c) => existsSync(c));
  if (!found) {
    throw new Error(
      `java missing: no java executable in JAVA_HOME or PATH (${process.env.PATH ?? ''}); the Firestore emulator needs Java 11+`,
    );
  }
  return found;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      srv.close(() => (typeof addr === 'object' && addr ? resolve(addr.port) : reject(new Error('no port'))));
    });
  });
}

async function isReady(host: string): Promise<boolean> {
  try {
    const res = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(1000) });
    return (await res.text()).trim() === 'Ok';
  } catch {
    return false;
  }
}

async function kill(child: ChildProcess, exited: Promise<string>): Promise<void> {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const signalGroup = (sig: NodeJS.Signals) => {
    try {
      process.kill(-(child.pid as number), sig);
    } catch {
      child.kill(sig);
    }
  };
  signalGroup('SIGTERM');
  const timer = setTimeout(() => signalGroup('SIGKILL'), 5000);
  await exited;
  clearTimeout(timer);
}
