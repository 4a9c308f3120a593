import type { GcpConfig } from '../../config/gcp-config.ts';
import type { CoreDeps } from '../../core/context.ts';
import { createTokenIdentity } from '../local/token-identity.ts';
import { createFirestoreMetadataStore } from './firestore-metadata-store.ts';
import { createGcsBlobStore } from './gcs-blob-store.ts';

/** Wires the GCP adapters from configuration. Loaded lazily so nothing on the local path imports a GCP SDK. */
export function openGcpBackend(cfg: GcpConfig, now: () => Date = () => new Date()): CoreDeps {
  const meta = createFirestoreMetadataStore({
    projectId: cfg.GOOGLE_CLOUD_PROJECT,
    databaseId: cfg.STUDIO_FIRESTORE_DATABASE,
  });
  const credentials = cfg.STUDIO_SIGNING_KEY_JSON
    ? (JSON.parse(cfg.STUDIO_SIGNING_KEY_JSON) as { client_email: string; private_key: string })
    : undefined;
  const blobs = createGcsBlobStore({
    bucket: cfg.STUDIO_BUCKET,
    ...(credentials ? { credentials } : {}),
    ...(cfg.STUDIO_SIGNED_URL_BASE ? { signedUrlBase: cfg.STUDIO_SIGNED_URL_BASE } : {}),
  });
  return { meta, blobs, identity: createTokenIdentity(meta, now), urlTtlSeconds: cfg.STUDIO_URL_TTL_SECONDS, now };
}
