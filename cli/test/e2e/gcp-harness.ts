// A team deployment on this machine for the CLI end-to-end tests: Firestore and Storage emulators, the verifying
// signed-URL gateway, and the bundled Cloud Function (functions/dist) under the real functions-framework binary.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createFirestoreMetadataStore } from '../../../functions/src/adapters/gcp/firestore-metadata-store.ts';
import {
  FUNCTION_DIST,
  type FunctionProcess,
  mintMember,
  REPO_ROOT,
  startFunctionProcess,
} from '../../../functions/test/gcp/support/function-process.ts';
import { makeServiceAccount } from '../../../functions/test/gcp/support/service-account.ts';
import { startStorageGateway } from '../../../functions/test/gcp/support/storage-gateway.ts';
import { type FirestoreEmulator, startFirestoreEmulator } from '../../../test-setup/emulators/firestore-emulator.ts';
import { type StorageEmulator, startStorageEmulator } from '../../../test-setup/emulators/storage-emulator.ts';
import type { Sandbox } from './helpers.ts';

export interface GcpDeployment {
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
  stop(): Promise<void>;
}

/** Starts everything; on failure stops what already runs. Builds the function bundle if the e2e setup did not. */
export async function startGcpDeployment(): Promise<GcpDeployment> {
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
    // Both at once; if one fails, the other is stopped too.
    const started = await Promise.allSettled([
      time('firestoreEmulator', () => startFirestoreEmulator()),
      time('storageEmulator', () => startStorageEmulator()),
    ]);
    for (const r of started) if (r.status === 'fulfilled') stops.push(() => r.value.stop());
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) throw (failed as PromiseRejectedResult).reason;
    const fs = (started[0] as PromiseFulfilledResult<FirestoreEmulator>).value;
    const st = (started[1] as PromiseFulfilledResult<StorageEmulator>).value;
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

    const run = randomBytes(4).toString('hex');
    const sa = makeServiceAccount();
    const gateway = await startStorageGateway({ emulatorHost: st.host, keys: { [sa.client_email]: sa.publicKeyPem } });
    stops.push(() => gateway.close());
    const config = {
      projectId: `demo-e2e-${run}`,
      bucket: `bkt-e2e-${run}`,
      signingKey: sa,
      signedUrlBase: gateway.url,
      firestoreHost: fs.host,
      storageHost: st.host,
    };
    const team = 'ml-team';
    const meta = createFirestoreMetadataStore({ projectId: config.projectId });
    stops.push(() => meta.close());
    const token = await mintMember(meta, { team, userId: 'e2e-user' });
    const fn = await time('functionColdStart', () => startFunctionProcess({ config, token }));
    stops.push(() => fn.stop());
    return {
      url: fn.url,
      token,
      team,
      bucket: config.bucket,
      function: fn,
      timings,
      env: (sb) => ({ ...sb.env, STUDIOML_API_URL: fn.url, STUDIOML_TOKEN: token }),
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
