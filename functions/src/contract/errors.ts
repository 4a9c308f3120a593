/** Stable error codes. The HTTP status for each lives in api/error-table.ts; the CLI exit code in the CLI. */
export const ERROR_CODES = [
  'E_BAD_REQUEST',
  'E_BAD_JSON',
  'E_BAD_KEY',
  'E_BAD_TAG',
  'E_BAD_PATH',
  'E_BAD_MANIFEST',
  'E_BAD_COMMAND',
  'E_BAD_ALIAS',
  'E_UNAUTHENTICATED',
  'E_TOKEN_EXPIRED',
  'E_FORBIDDEN',
  'E_BAD_SIGNATURE',
  'E_URL_EXPIRED',
  'E_NOT_FOUND',
  'E_EXPERIMENT_EXISTS',
  'E_IMMUTABLE',
  'E_DEST_EXISTS',
  'E_CONFLICT',
  'E_LEASE_LOST',
  'E_BLOB_MISSING',
  'E_HASH_MISMATCH',
  'E_SIZE_MISMATCH',
  'E_TOO_LARGE',
  'E_UNAVAILABLE',
  'E_NO_SPACE',
  'E_INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/** An expected failure with a stable code; `details` is safe to show to the caller. */
export class StudioError extends Error {
  readonly code: ErrorCode;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'StudioError';
    this.code = code;
    this.details = options?.details;
  }
}

export function isStudioError(err: unknown, code?: ErrorCode): err is StudioError {
  return err instanceof StudioError && (code === undefined || err.code === code);
}

export function isErrorCode(value: unknown): value is ErrorCode {
  return typeof value === 'string' && (ERROR_CODES as readonly string[]).includes(value);
}
