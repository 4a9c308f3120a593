import { Firestore } from '@google-cloud/firestore';
import { createCloudTasksQueue } from '../../adapters/gcp/cloud-tasks-queue.ts';
import { createCompositeIdentity } from '../../adapters/gcp/composite-identity.ts';
import { firebaseClientConfig } from '../../adapters/gcp/firebase-client-config.ts';
import { createFirebaseIdentity } from '../../adapters/gcp/firebase-identity.ts';
import { createFirestoreAliasStore } from '../../adapters/gcp/firestore-alias-store.ts';
import { createFirestoreAuditLog } from '../../adapters/gcp/firestore-audit-log.ts';
import { createFirestoreJobStore } from '../../adapters/gcp/firestore-job-store.ts';
import { loadFirestoreLinkKey } from '../../adapters/gcp/firestore-link-key.ts';
import { createFirestoreRetentionStore } from '../../adapters/gcp/firestore-retention-store.ts';
import { createFirestoreStores } from '../../adapters/gcp/firestore-stores.ts';
import { createGcsBlobStore } from '../../adapters/gcp/gcs-blob-store.ts';
import type { GcpConfig } from '../../config/gcp-config.ts';
import type { CoreDeps } from '../../core/context.ts';
import { metadataPorts } from '../../core/ports.ts';
import { createTokenIdentity } from '../../core/token-identity.ts';

/** Test seams that are not configuration (terraform never sets them). */
export interface GcpBackendOptions {
  /**
   * Cloud Tasks REST endpoint, e.g. the fake in functions/test/support/fake-cloud-tasks.ts; wins over
   * STUDIO_TASKS_API_ENDPOINT (which a function process under test is given instead).
   */
  tasksApiEndpoint?: string;
}

/**
 * Wires the GCP adapters from configuration. Loaded lazily so nothing on the local path imports a GCP SDK.
 * Lease deadlines, --lifetime and --max-duration need Cloud Tasks: without STUDIO_TASKS_QUEUE,
 * STUDIO_TASKS_SERVICE_ACCOUNT and STUDIO_PUBLIC_URL jobs still run, but a lease whose worker went silent is never
 * taken back and a --lifetime is only enforced when a worker next looks at the queue.
 */
export function openGcpBackend(
  cfg: GcpConfig,
  now: () => Date = () => new Date(),
  opts: GcpBackendOptions = {},
): CoreDeps {
  // One client (one gRPC channel) for the metadata ports, jobs and the audit log.
  const firestore = new Firestore({
    projectId: cfg.GOOGLE_CLOUD_PROJECT,
    ...(cfg.STUDIO_FIRESTORE_DATABASE ? { databaseId: cfg.STUDIO_FIRESTORE_DATABASE } : {}),
    ignoreUndefinedProperties: true,
  });
  let linkKey: Promise<Uint8Array> | undefined;
  const stores = metadataPorts(createFirestoreStores({ projectId: cfg.GOOGLE_CLOUD_PROJECT, firestore }));
  const jobs = createFirestoreJobStore({ projectId: cfg.GOOGLE_CLOUD_PROJECT, firestore });
  const audit = createFirestoreAuditLog({ projectId: cfg.GOOGLE_CLOUD_PROJECT, firestore });
  const aliases = createFirestoreAliasStore({ projectId: cfg.GOOGLE_CLOUD_PROJECT, firestore });
  const retention = createFirestoreRetentionStore({ projectId: cfg.GOOGLE_CLOUD_PROJECT, firestore });
  const credentials = cfg.STUDIO_SIGNING_KEY_JSON
    ? (JSON.parse(cfg.STUDIO_SIGNING_KEY_JSON) as { client_email: string; private_key: string })
    : undefined;
  const blobs = createGcsBlobStore({
    bucket: cfg.STUDIO_BUCKET,
    ...(credentials ? { credentials } : {}),
    ...(cfg.STUDIO_SIGNED_URL_BASE ? { signedUrlBase: cfg.STUDIO_SIGNED_URL_BASE } : {}),
  });
  const tasksApiEndpoint = opts.tasksApiEndpoint ?? cfg.STUDIO_TASKS_API_ENDPOINT;
  // Tasks call back into this function's internal routes (STUDIO_PUBLIC_URL + route) with an OIDC token of the task
  // service account, which is also what the internal handler accepts (hosts/cloud-function/index.ts).
  const tasks =
    cfg.STUDIO_TASKS_QUEUE && cfg.STUDIO_TASKS_SERVICE_ACCOUNT && cfg.STUDIO_PUBLIC_URL
      ? createCloudTasksQueue({
          project: cfg.GOOGLE_CLOUD_PROJECT,
          location: cfg.STUDIO_REGION,
          queue: cfg.STUDIO_TASKS_QUEUE,
          targetBaseUrl: cfg.STUDIO_PUBLIC_URL,
          serviceAccountEmail: cfg.STUDIO_TASKS_SERVICE_ACCOUNT,
          ...(tasksApiEndpoint ? { apiEndpoint: tasksApiEndpoint } : {}),
        })
      : undefined;
  return {
    ...stores,
    blobs,
    audit,
    aliases,
    retention,
    // Personal/worker/job tokens (slt_…) and Firebase ID tokens of people who signed in with `studio-lite login`.
    identity: createCompositeIdentity({
      tokens: createTokenIdentity(stores, now),
      firebase: createFirebaseIdentity({
        projectId: cfg.GOOGLE_CLOUD_PROJECT,
        accounts: stores.accounts,
        now,
        emulator: Boolean(cfg.FIREBASE_AUTH_EMULATOR_HOST),
        ...(cfg.STUDIO_FIREBASE_JWKS_URL ? { jwksUrl: cfg.STUDIO_FIREBASE_JWKS_URL } : {}),
      }),
    }),
    authConfig: { firebase: firebaseClientConfig(cfg) },
    linkKey: () => {
      linkKey ??= loadFirestoreLinkKey(firestore).catch((err: unknown) => {
        linkKey = undefined; // retried by the next request
        throw err;
      });
      return linkKey;
    },
    urlTtlSeconds: cfg.STUDIO_URL_TTL_SECONDS,
    now,
    jobs,
    ...(tasks ? { tasks } : {}),
    ...(cfg.STUDIO_MAX_BLOB_BYTES !== undefined ? { maxBlobBytes: cfg.STUDIO_MAX_BLOB_BYTES } : {}),
    ...(cfg.STUDIO_GC_MIN_GRACE_SECONDS !== undefined ? { gcMinGraceSeconds: cfg.STUDIO_GC_MIN_GRACE_SECONDS } : {}),
    // A waiting lease request polls the queue once a second: every look is a query (at least one read).
    runLeaseSeconds: cfg.STUDIO_RUN_LEASE_SECONDS,
    jobSettings: { leaseSeconds: cfg.STUDIO_JOB_LEASE_SECONDS, maxAttempts: cfg.STUDIO_JOB_MAX_ATTEMPTS, pollMs: 1000 },
  };
}
