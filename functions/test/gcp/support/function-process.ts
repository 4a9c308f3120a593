import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Role } from '../../../src/contract/model.ts';
import type { MetadataStore } from '../../../src/core/ports.ts';
import { mintToken } from '../../../src/core/tokens.ts';

/**
 * Runs the deployable Cloud Function (functions/dist, built by `node scripts/build.mjs --only=function`) under the real
 * `functions-framework` binary on a loopback port, configured like terraform configures it: environment only.
 */
export const REPO_ROOT = fileURLToPath(new URL('../../../../', import.meta.url));
export const FUNCTION_DIST = join(REPO_ROOT, 'functions', 'dist');
export const FUNCTIONS_FRAMEWORK_BIN = join(REPO_ROOT, 'node_modules', '.bin', 'functions-framework');
const GUARD_PRELOAD = new URL('../../../../test-setup/network-guard-preload.mjs', import.meta.url).href;

export interface FunctionConfig {
  /** demo-… project id: Firestore data of one test run stays in its own emulator project. */
  projectId: string;
  bucket: string;
  /** Locally generated service-account key the function signs URLs with. */
  signingKey: { client_email: string; private_key: string };
  /** The verifying gateway in front of the storage emulator. */
  signedUrlBase: string;
  /** `127.0.0.1:<port>` */
  firestoreHost: string;
  /** `http://127.0.0.1:<port>` */
  storageHost: string;
}

/** The function's environment variables (docs: functions/src/config/gcp-config.ts) plus the offline guards. */
export function functionEnv(c: FunctionConfig): Record<string, string> {
  return {
    GOOGLE_CLOUD_PROJECT: c.projectId,
    STUDIO_BUCKET: c.bucket,
    STUDIO_SIGNING_KEY_JSON: JSON.stringify({
      client_email: c.signingKey.client_email,
      private_key: c.signingKey.private_key,
    }),
    STUDIO_SIGNED_URL_BASE: c.signedUrlBase,
    FIRESTORE_EMULATOR_HOST: c.firestoreHost,
    STORAGE_EMULATOR_HOST: c.storageHost,
    METADATA_SERVER_DETECTION: 'none',
    GCE_METADATA_HOST: '127.0.0.1:1',
  };
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

export interface FunctionProcess {
  /** http://127.0.0.1:<port> */
  url: string;
  /** Spawn to the first 200 of `GET /v1/whoami` (process start, module load, backend open, first request). */
  coldStartMs: number;
  /** stdout+stderr tail. */
  output(): string;
  stop(): Promise<void>;
}

/**
 * Spawns `functions-framework --target=api --source=<dist>` and polls `GET /v1/whoami` with `token` until it answers
 * 200. Throws with the process output when it exits or does not get there within `timeoutMs`.
 */
export async function startFunctionProcess(opts: {
  config: FunctionConfig;
  token: string;
  source?: string;
  timeoutMs?: number;
  /** More environment variables for the function (e.g. the Firebase sign-in settings). */
  env?: Record<string, string>;
  /** Port to listen on (e.g. from `freePort()`, when the function must know its own URL: STUDIO_PUBLIC_URL). */
  port?: number;
}): Promise<FunctionProcess> {
  const source = opts.source ?? FUNCTION_DIST;
  if (!existsSync(join(source, 'index.js'))) {
    throw new Error(`no function bundle in ${source}: run "node scripts/build.mjs --only=function" first`);
  }
  const port = opts.port ?? (await freePort());
  const env: NodeJS.ProcessEnv = { ...process.env, ...functionEnv(opts.config), ...opts.env };
  // Cloud Functions sets these; their absence would not matter, but keep the child like production.
  env.FUNCTION_TARGET = 'api';
  env.FUNCTION_SIGNATURE_TYPE = 'http';
  if (!(env.NODE_OPTIONS ?? '').includes('network-guard-preload')) {
    env.NODE_OPTIONS = [env.NODE_OPTIONS, `--import=${GUARD_PRELOAD}`].filter(Boolean).join(' ');
  }
  const started = performance.now();
  const child = spawn(
    process.execPath,
    [FUNCTIONS_FRAMEWORK_BIN, '--target=api', `--source=${source}`, `--port=${port}`, '--signature-type=http'],
    { cwd: REPO_ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let log = '';
  const keep = (b: Buffer) => {
    log = (log + b.toString('utf8')).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const onExit = () => child.kill('SIGKILL');
  process.once('exit', onExit);
  const stop = async () => {
    process.off('exit', onExit);
    await kill(child, exited);
  };

  const url = `http://127.0.0.1:${port}`;
  const deadline = started + (opts.timeoutMs ?? 30_000);
  let last = 'no answer';
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) {
      await stop();
      throw new Error(
        `functions-framework exited (${child.exitCode ?? child.signalCode}) before its first 200:\n${log}`,
      );
    }
    const res = await fetch(`${url}/v1/whoami`, {
      headers: { authorization: `Bearer ${opts.token}` },
      signal: AbortSignal.timeout(Math.max(1, Math.ceil(deadline - performance.now()))),
    }).catch(() => null);
    if (res) {
      const body = await res.text();
      if (res.status === 200) break;
      last = `${res.status} ${body.slice(0, 300)}`;
    }
    if (performance.now() > deadline) {
      await stop();
      throw new Error(
        `function not answering 200 on ${url}/v1/whoami after ${opts.timeoutMs ?? 30_000} ms (last: ${last}):\n${log}`,
      );
    }
    await new Promise((r) => setTimeout(r, 10));
  }
  return { url, coldStartMs: performance.now() - started, output: () => log, stop };
}

async function kill(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

/** Creates a user with `role` on `team` and a personal token for them; returns the bearer secret. */
export async function mintMember(
  meta: MetadataStore,
  opts: { team: string; userId: string; role?: Role; expiresAt?: Date | null; now?: Date },
): Promise<string> {
  const now = opts.now ?? new Date();
  await meta.putUser({ id: opts.userId, name: opts.userId, createdAt: now.toISOString() });
  await meta.setMembership(opts.team, opts.userId, opts.role ?? 'admin');
  const { secret } = await mintToken(meta, {
    userId: opts.userId,
    kind: 'personal',
    scopes: ['*'],
    expiresAt: opts.expiresAt ?? null,
    now,
  });
  return secret;
}
