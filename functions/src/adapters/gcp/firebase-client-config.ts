import type { GcpConfig } from '../../config/gcp-config.ts';
import type { FirebaseClientConfig } from '../../contract/auth-config.ts';

const GOOGLE_AUTHORIZE_URL = 'https://accounts.google.com/o/oauth2/v2/auth';
const GOOGLE_TOKEN_URL = 'https://oauth2.googleapis.com/token';

/**
 * The sign-in configuration the CLI fetches from GET /v1/auth/config, or null when browser sign-in is not set up
 * (no web API key or no OAuth client). With the Auth emulator configured, Identity Toolkit and securetoken point at
 * it (the emulator serves both under their host names as path prefixes).
 */
export function firebaseClientConfig(cfg: GcpConfig): FirebaseClientConfig | null {
  if (!cfg.STUDIO_FIREBASE_API_KEY || !cfg.STUDIO_GOOGLE_OAUTH_CLIENT_ID) return null;
  const emulator = cfg.FIREBASE_AUTH_EMULATOR_HOST;
  const google = (service: string) => (emulator ? `http://${emulator}/${service}/v1` : `https://${service}/v1`);
  return {
    apiKey: cfg.STUDIO_FIREBASE_API_KEY,
    projectId: cfg.GOOGLE_CLOUD_PROJECT,
    googleClientId: cfg.STUDIO_GOOGLE_OAUTH_CLIENT_ID,
    googleClientSecret: cfg.STUDIO_GOOGLE_OAUTH_CLIENT_SECRET ?? null,
    authorizeUrl: cfg.STUDIO_OAUTH_AUTHORIZE_URL ?? GOOGLE_AUTHORIZE_URL,
    tokenUrl: cfg.STUDIO_OAUTH_TOKEN_URL ?? GOOGLE_TOKEN_URL,
    identityToolkitUrl: google('identitytoolkit.googleapis.com'),
    secureTokenUrl: google('securetoken.googleapis.com'),
  };
}
