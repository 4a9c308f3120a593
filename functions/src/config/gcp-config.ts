import { z } from 'zod';
import { StudioError } from '../core/errors.ts';

/**
 * The Cloud Function is configured only through environment variables (docs/configuration.md lists them; terraform
 * sets them). Parsed once at cold start; a missing or malformed one fails fast with a message naming it.
 */
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
  STUDIO_URL_TTL_SECONDS: z.coerce
    .number()
    .int()
    .min(60)
    .max(7 * 24 * 3600)
    .default(900),
  /** JSON service-account key used to sign URLs locally (no IAM signBlob round trip); absent = IAM signing. */
  STUDIO_SIGNING_KEY_JSON: z.string().optional(),
  /** Where signed URLs point (tests: a verifying gateway in front of the storage emulator). */
  STUDIO_SIGNED_URL_BASE: z.string().url().optional(),
});

export type GcpConfig = z.infer<typeof schema>;

export function readGcpConfig(env: NodeJS.ProcessEnv = process.env): GcpConfig {
  const r = schema.safeParse(env);
  if (!r.success) {
    const issue = r.error.issues[0];
    throw new StudioError('E_INTERNAL', `function configuration: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  return r.data;
}

/** Every variable the schema knows, in declaration order (terraform and docs/configuration.md are tested against it). */
export const GCP_CONFIG_KEYS = Object.keys(schema.shape) as (keyof GcpConfig)[];
