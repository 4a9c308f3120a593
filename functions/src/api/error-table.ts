import type { ErrorCode } from '../contract/errors.ts';

/** The one place where error codes become HTTP statuses. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  E_BAD_REQUEST: 400,
  E_BAD_JSON: 400,
  E_BAD_KEY: 400,
  E_BAD_TAG: 400,
  E_BAD_PATH: 400,
  E_BAD_MANIFEST: 400,
  E_BAD_COMMAND: 400,
  E_BAD_ALIAS: 400,
  E_UNAUTHENTICATED: 401,
  E_TOKEN_EXPIRED: 401,
  E_FORBIDDEN: 403,
  E_BAD_SIGNATURE: 403,
  E_URL_EXPIRED: 403,
  E_NOT_FOUND: 404,
  E_EXPERIMENT_EXISTS: 409,
  E_IMMUTABLE: 409,
  /** The CLI's own (a pull would overwrite differing files); never sent by the API. */
  E_DEST_EXISTS: 409,
  E_CONFLICT: 409,
  E_LEASE_LOST: 409,
  E_BLOB_MISSING: 409,
  E_HASH_MISMATCH: 400,
  E_SIZE_MISMATCH: 400,
  E_TOO_LARGE: 413,
  E_UNAVAILABLE: 503,
  E_NO_SPACE: 507,
  E_INTERNAL: 500,
};
