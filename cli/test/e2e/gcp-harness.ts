// A team deployment on this machine for the CLI end-to-end tests: Firestore and Storage emulators, the verifying
// signed-URL gateway, and the bundled Cloud Function (functions/dist) under the real functions-framework binary.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { createFirestoreStores } from '../../../functions/src/adapters/gcp/firestore-stores.ts';
import { type MetadataPorts, metadataPorts } from '../../../functions/src/core/ports.ts';
import {
  FUNCTION_DIST,
  type FunctionProcess,
  freePort,
  mintMember,
  REPO_ROOT,
  startFunctionProcess,
} from '../../../functions/test/gcp/support/function-process.ts';
import { makeServiceAccount } from '../../../functions/test/gcp/support/service-account.ts';
import { startStorageGateway } from '../../../functions/test/gcp/support/storage-gateway.ts';
import { type FakeCloudTasks, startFakeCloudTasks } from '../../../functions/test/support/fake-cloud-tasks.ts';
import { type FakeGoogleOAuth, startFakeGoogleOAuth } from '../../../functions/test/support/fake-google-oauth.ts';
import { type AuthEmulator, startAuthEmulator } from '../../../test-setup/emulators/auth-emulator.ts';
import { type FirestoreEmulator, startFirestoreEmulator } from '../../../test-setup/emulators/firestore-emulator.ts';
import { type StorageEmulator, startStorageEmulator } from '../../../test-setup/emulators/storage-emulator.ts';
import { makeSandbox, removeSandbox, type Sandbox } from './helpers.ts';

export interface GcpDeployment extends MetadataPorts {
  /** The function's base URL (STUDIOML_API_URL). */
  url: string;
  /** An admin token of `team` (STUDIOML_TOKEN). */
  token: string;
  team: string;
  bucket: string;
  function: FunctionProcess;
  /** Milliseconds spent starting each piece. */
  timings: Record<string, number>;
  /** A sandbox's environment pointed at this deployment. */
  env(sb: Pick<Sandbox, 'env'>): NodeJS.ProcessEnv;
  /** With `{ signIn: true }`: the Auth emulator the function trusts and the fake Google it sends people to. */
  signIn?: { authHost: string; projectId: string; google: FakeGoogleOAuth };
  /** With `{ tasks: true }`: the fake Cloud Tasks the function enqueues on (and that calls its internal routes). */
  tasks?: FakeCloudTasks;
  stop(): Promise<void>;
}

export interface GcpDeploymentOptions {
  /**
   * Browser sign-in: also start a Firebase Auth emulator (for this deployment's project) and a fake Google OAuth
   * server, and configure the function with them (STUDIO_FIREBASE_API_KEY, the OAuth client, the emulator host).
   */
  signIn?: boolean;
  /**
   * Queued runs with deadlines: also start the fake Cloud Tasks (functions/test/support/fake-cloud-tasks.ts) and
   * configure the function like terraform does (STUDIO_TASKS_QUEUE, STUDIO_TASKS_SERVICE_ACCOUNT, STUDIO_PUBLIC_URL =
   * its own loopback URL) plus the test-only STUDIO_TASKS_API_ENDPOINT and STUDIO_OIDC_JWKS_URL pointing at the fake,
   * so lease checks, --lifetime and --max-duration arrive as OIDC-authenticated task requests.
   */
  tasks?: boolean;
  /** STUDIO_JOB_LEASE_SECONDS (5 … 3600; default 60): short leases make a silent worker's job move quickly. */
  jobLeaseSeconds?: number;
  /** STUDIO_JOB_MAX_ATTEMPTS (default 3). */
  jobMaxAttempts?: number;
  /** STUDIO_GC_MIN_GRACE_SECONDS (test-only): lets `gc --grace 1s` be used and waited out. */
  gcMinGraceSeconds?: number;
}

/** The task service account of a deployment started with `{ tasks: true }`. */
export const TASKS_SERVICE_ACCOUNT = 'tasks@demo-e2e.iam.gserviceaccount.com';

/** Starts everything; on failure stops what already runs. Builds the function bundle if the e2e setup did not. */
export async function startGcpDeployment(opts: GcpDeploymentOptions = {}): Promise<GcpDeployment> {
  const timings: Record<string, number> = {};
  const time = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = performance.now();
    try {
      return await fn();
    } finally {
      timings[name] = Math.round(performance.now() - t);
    }
  };
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const s of stops.splice(0).reverse()) await s().catch(() => undefined);
  };
  try {
    if (!existsSync(join(FUNCTION_DIST, 'index.js'))) {
      const r = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs'), '--only=function'], {
        cwd: REPO_ROOT,
        stdio: 'inherit',
      });
      if (r.status !== 0) throw new Error('building the function bundle failed');
    }
    const run = randomBytes(4).toString('hex');
    const projectId = `demo-e2e-${run}`;
    // All at once; if one fails, the others are stopped too.
    const started = await Promise.allSettled([
      time('firestoreEmulator', () => startFirestoreEmulator()),
      time('storageEmulator', () => startStorageEmulator()),
      ...(opts.signIn ? [time('authEmulator', () => startAuthEmulator({ projectId }))] : []),
    ]);
    for (const r of started) if (r.status === 'fulfilled') stops.push(() => r.value.stop());
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const fs = (started[0] as PromiseFulfilledResult<FirestoreEmulator>).value;
    const st = (started[1] as PromiseFulfilledResult<StorageEmulator>).value;
    const auth = (started[2] as PromiseFulfilledResult<AuthEmulator> | undefined)?.value;
    // The clients in this process (token minting, the gateway's storage client) talk to THESE emulators: in a full
    // run the gcp project's global setup has already pointed both variables at its own instances, and
    // @google-cloud/storage follows STORAGE_EMULATOR_HOST even when given an apiEndpoint.
    const saved = { fs: process.env.FIRESTORE_EMULATOR_HOST, st: process.env.STORAGE_EMULATOR_HOST };
    process.env.FIRESTORE_EMULATOR_HOST = fs.host;
    process.env.STORAGE_EMULATOR_HOST = st.host;
    stops.push(async () => {
      restoreEnv('FIRESTORE_EMULATOR_HOST', saved.fs);
      restoreEnv('STORAGE_EMULATOR_HOST', saved.st);
    });

    const sa = makeServiceAccount();
    const gateway = await startStorageGateway({ emulatorHost: st.host, keys: { [sa.client_email]: sa.publicKeyPem } });
    stops.push(() => gateway.close());
    const config = {
      projectId,
      bucket: `bkt-e2e-${run}`,
      signingKey: sa,
      signedUrlBase: gateway.url,
      firestoreHost: fs.host,
      storageHost: st.host,
    };
    const team = 'ml-team';
    const meta = createFirestoreStores({ projectId: config.projectId });
    stops.push(() => meta.close());
    const token = await mintMember(meta, { team, userId: 'e2e-user' });
    let signIn: GcpDeployment['signIn'];
    const env: Record<string, string> = {};
    if (auth) {
      const google = await startFakeGoogleOAuth();
      stops.push(() => google.close());
      signIn = { authHost: auth.host, projectId, google };
      Object.assign(env, {
        FIREBASE_AUTH_EMULATOR_HOST: auth.host,
        STUDIO_FIREBASE_API_KEY: 'fake-api-key',
        STUDIO_GOOGLE_OAUTH_CLIENT_ID: google.clientId,
        STUDIO_GOOGLE_OAUTH_CLIENT_SECRET: google.clientSecret,
        STUDIO_OAUTH_AUTHORIZE_URL: google.authorizeUrl,
        STUDIO_OAUTH_TOKEN_URL: google.tokenUrl,
      });
    }
    if (opts.jobLeaseSeconds !== undefined) env.STUDIO_JOB_LEASE_SECONDS = String(opts.jobLeaseSeconds);
    if (opts.jobMaxAttempts !== undefined) env.STUDIO_JOB_MAX_ATTEMPTS = String(opts.jobMaxAttempts);
    if (opts.gcMinGraceSeconds !== undefined) env.STUDIO_GC_MIN_GRACE_SECONDS = String(opts.gcMinGraceSeconds);
    let tasks: FakeCloudTasks | undefined;
    let port: number | undefined;
    if (opts.tasks) {
      const fake = await time('fakeCloudTasks', () => startFakeCloudTasks());
      tasks = fake;
      stops.push(() => fake.close());
      // The function is the target of its own tasks: it must know its URL before it starts.
      port = await freePort();
      Object.assign(env, {
        STUDIO_TASKS_QUEUE: 'studio-jobs',
        STUDIO_TASKS_SERVICE_ACCOUNT: TASKS_SERVICE_ACCOUNT,
        STUDIO_PUBLIC_URL: `http://127.0.0.1:${port}`,
        STUDIO_TASKS_API_ENDPOINT: fake.url,
        STUDIO_OIDC_JWKS_URL: fake.jwksUrl,
      });
    }
    const fn = await time('functionColdStart', () =>
      startFunctionProcess({ config, token, env, ...(port !== undefined ? { port } : {}) }),
    );
    stops.push(() => fn.stop());
    return {
      url: fn.url,
      token,
      team,
      bucket: config.bucket,
      function: fn,
      timings,
      env: (sb) => ({ ...sb.env, STUDIOML_API_URL: fn.url, STUDIOML_TOKEN: token }),
      // The deployment's metadata ports (what a team admin would change through the API, e.g. memberships).
      ...metadataPorts(meta),
      ...(signIn ? { signIn } : {}),
      ...(tasks ? { tasks } : {}),
      stop: stopAll,
    };
  } catch (err) {
    await stopAll();
    throw err;
  }
}

function restoreEnv(name: string, value: string | undefined): void {
  if (value === undefined) delete process.env[name];
  else process.env[name] = value;
}

/**
 * One deployment for a test file (started in beforeAll, stopped in afterAll) and `remote()`: a fresh home and cwd
 * whose CLI talks to it, like another machine of the same team (removed in afterAll).
 */
export function useGcpDeployment(opts: GcpDeploymentOptions = {}, onUp?: (dep: GcpDeployment) => void) {
  let dep: GcpDeployment | undefined;
  const sandboxes: ReturnType<typeof makeSandbox>[] = [];
  beforeAll(async () => {
    dep = await startGcpDeployment(opts);
    onUp?.(dep);
  }, 90_000);
  afterAll(async () => {
    // The deployment stops even when a home fails the privacy assertion (else its emulators outlive the test run).
    try {
      for (const sb of sandboxes.splice(0)) removeSandbox(sb);
    } finally {
      await dep?.stop();
    }
  });
  const deployment = (): GcpDeployment => {
    if (!dep) throw new Error('the deployment is not up (use it inside tests)');
    return dep;
  };
  return {
    deployment,
    remote(): Sandbox {
      const sb = makeSandbox();
      sandboxes.push(sb);
      return { ...sb, env: deployment().env(sb) };
    },
  };
}
