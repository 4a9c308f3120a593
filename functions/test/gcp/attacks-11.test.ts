// The issue-11 attack suite (functions/test/support/attack-suite.ts) through the deployable Cloud Function: the bundle
// under the real functions-framework binary, on the Firestore and Storage emulators (signed URLs through the
// verifying gateway). The same tests run on the local host in functions/test/api/attacks-11.test.ts.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, inject } from 'vitest';
import { createFirestoreAuditLog } from '../../src/adapters/gcp/firestore-audit-log.ts';
import { createFirestoreJobStore } from '../../src/adapters/gcp/firestore-job-store.ts';
import { createFirestoreStores } from '../../src/adapters/gcp/firestore-stores.ts';
import { metadataPorts } from '../../src/core/ports.ts';
import { type AttackHost, describeAttacks } from '../support/attack-suite.ts';
import { type FunctionProcess, mintMember, REPO_ROOT, startFunctionProcess } from './support/function-process.ts';
import { makeServiceAccount } from './support/service-account.ts';
import { type StorageGateway, startStorageGateway } from './support/storage-gateway.ts';

const firestoreHost = inject('firestoreHost');
const storageHost = inject('storageHost');
process.env.FIRESTORE_EMULATOR_HOST = firestoreHost;

const run = randomBytes(4).toString('hex');
const projectId = `demo-attacks-${run}`;
const bucket = `bkt-attacks-${run}`;
const TEAM = 'team-a';
const sa = makeServiceAccount();
const meta = createFirestoreStores({ projectId });
const jobs = createFirestoreJobStore({ projectId });
const audit = createFirestoreAuditLog({ projectId });
let gateway: StorageGateway;
let fn: FunctionProcess;
let host: AttackHost;

beforeAll(async () => {
  gateway = await startStorageGateway({ emulatorHost: storageHost, keys: { [sa.client_email]: sa.publicKeyPem } });
  const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs'), '--only=function'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`function bundle: ${build.stderr}`);
  const rootToken = await mintMember(meta, { team: TEAM, userId: 'root' });
  fn = await startFunctionProcess({
    config: { projectId, bucket, signingKey: sa, signedUrlBase: gateway.url, firestoreHost, storageHost },
    token: rootToken,
    env: { STUDIO_JOB_LEASE_SECONDS: '3600' },
  });
  host = { url: fn.url, team: TEAM, ...metadataPorts(meta), jobs, audit, root: { token: rootToken, userId: 'root' } };
}, 120_000);

afterAll(async () => {
  await fn?.stop();
  await gateway?.close();
  await Promise.all([meta.close(), jobs.close(), audit.close()]);
});

describeAttacks('Cloud Function on the emulators', () => host);
