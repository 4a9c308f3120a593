/**
 * What a client needs to sign a person in (GET /v1/auth/config, no credential needed). All of it is public: the
 * Firebase web API key and a Desktop-app OAuth client are meant to ship inside clients.
 */
export interface FirebaseClientConfig {
  /** Firebase web API key, sent as `?key=` to Identity Toolkit and securetoken. */
  apiKey: string;
  /** The project whose ID tokens the API accepts (their `aud`). */
  projectId: string;
  /** OAuth client ("Desktop app") the CLI signs in to Google with, and its non-confidential secret. */
  googleClientId: string;
  googleClientSecret: string | null;
  /** Google's authorization and token endpoints (a fake in tests). */
  authorizeUrl: string;
  tokenUrl: string;
  /** Base URLs ending in `/v1` (the Auth emulator's in tests). */
  identityToolkitUrl: string;
  secureTokenUrl: string;
}

/** Sign-in configuration of a backend; `firebase: null` means personal access tokens only (the local backend). */
export interface AuthConfig {
  firebase: FirebaseClientConfig | null;
}
