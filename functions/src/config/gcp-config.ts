import * as z from 'zod';
import { StudioError } from '../contract/errors.ts';

/**
 * The Cloud Function is configured only through environment variables (docs/configuration.md lists them; terraform
 * sets them). Parsed once at cold start; a missing or malformed one fails fast with a message naming it.
 */
/** terraform sets optional variables to "" when they are not configured: treat that as unset. */
const unsetIfEmpty = <T extends z.ZodType>(t: T) => z.preprocess((v) => (v === '' ? undefined : v), t);

const schema = z.object({
  GOOGLE_CLOUD_PROJECT: z.string().min(1),
  STUDIO_BUCKET: z.string().min(3),
  STUDIO_FIRESTORE_DATABASE: z.string().min(1).default('(default)'),
  STUDIO_REGION: z.string().min(1).default('us-central1'),
  STUDIO_TASKS_QUEUE: z.string().min(1).optional(),
  STUDIO_TASKS_SERVICE_ACCOUNT: z.string().email().optional(),
  /** Public base URL of this function: the target and OIDC audience of its Cloud Tasks. */
  STUDIO_PUBLIC_URL: z.string().url().optional(),
  /** Where Google's OIDC signing keys are fetched (tests serve their own). */
  STUDIO_OIDC_JWKS_URL: z.string().url().optional(),
  /** Cloud Tasks REST endpoint (tests only: the fake in functions/test/support/fake-cloud-tasks.ts); absent = Google's. */
  STUDIO_TASKS_API_ENDPOINT: z.string().url().optional(),
  /** Shortest grace a blob GC run may use (tests only; default core/gc.ts GC_MIN_GRACE_SECONDS, one hour). */
  STUDIO_GC_MIN_GRACE_SECONDS: z.coerce.number().int().min(0).optional(),
  STUDIO_URL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(900),
  /** Largest blob a plan or commit accepts, in bytes (default 100 GiB; GCS objects may be up to 5 TiB). */
  STUDIO_MAX_BLOB_BYTES: z.coerce
    .number()
    .int()
    .positive()
    .max(5 * 2 ** 40)
    .optional(),
  /** Lease length of a queued job in seconds; a worker heartbeats every third of it (at most every 5 s). */
  STUDIO_JOB_LEASE_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
  STUDIO_RUN_LEASE_SECONDS: z.coerce.number().int().min(5).max(3600).default(60),
  /** Leases a job may take (the first run plus requeues after a silent worker) before it is declared lost. */
  STUDIO_JOB_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(3),
  /** JSON service-account key used to sign URLs locally (no IAM signBlob round trip); absent = IAM signing. */
  STUDIO_SIGNING_KEY_JSON: z.string().optional(),
  /** Where signed URLs point (tests: a verifying gateway in front of the storage emulator). */
  STUDIO_SIGNED_URL_BASE: z.string().url().optional(),
  /**
   * Browser sign-in (Firebase Authentication / Identity Platform). The web API key is public: the CLI sends it with
   * its Identity Toolkit and securetoken calls. Sign-in is offered (GET /v1/auth/config) only when the key and the
   * OAuth client id are both set; Firebase ID tokens of this project are accepted either way.
   */
  STUDIO_FIREBASE_API_KEY: unsetIfEmpty(z.string().min(1).optional()),
  /** OAuth client of type "Desktop app" the CLI signs in to Google with (loopback redirect + PKCE). */
  STUDIO_GOOGLE_OAUTH_CLIENT_ID: unsetIfEmpty(z.string().min(1).optional()),
  /** That client's secret. Google does not treat a Desktop app's secret as confidential; it is served to the CLI. */
  STUDIO_GOOGLE_OAUTH_CLIENT_SECRET: unsetIfEmpty(z.string().min(1).optional()),
  /** Where the Firebase ID token signing keys are fetched (tests serve their own). */
  STUDIO_FIREBASE_JWKS_URL: z.string().url().optional(),
  /** Google's OAuth authorization and token endpoints, as handed to the CLI (tests: a fake OAuth server). */
  STUDIO_OAUTH_AUTHORIZE_URL: z.string().url().optional(),
  STUDIO_OAUTH_TOKEN_URL: z.string().url().optional(),
  /**
   * `host:port` of the Firebase Auth emulator (tests only): its unsigned ID tokens are then accepted and the CLI is
   * pointed at it. Refused together with NODE_ENV=production.
   */
  FIREBASE_AUTH_EMULATOR_HOST: z
    .string()
    .regex(/^[A-Za-z0-9.[\]:-]+:\d+$/, 'expected host:port')
    .optional(),
});

export type GcpConfig = z.infer<typeof schema>;

export function readGcpConfig(env: NodeJS.ProcessEnv = process.env): GcpConfig {
  const r = schema.safeParse(env);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new StudioError('E_INTERNAL', `function configuration: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  // The emulator's tokens are unsigned: anyone could mint one. A deployment must never accept them.
  if (r.data.FIREBASE_AUTH_EMULATOR_HOST && env.NODE_ENV === 'production') {
    throw new StudioError(
      'E_INTERNAL',
      'function configuration: FIREBASE_AUTH_EMULATOR_HOST is set with NODE_ENV=production',
    );
  }
  return r.data;
}

/** Every variable the schema knows, in declaration order (terraform and docs/configuration.md are tested against it). */
export const GCP_CONFIG_KEYS = Object.keys(schema.shape) as (keyof GcpConfig)[];
