import { type ErrorCode, isErrorCode, StudioError } from '@studio-lite/functions/contract';

/** S3/GCS XML error codes (signed-URL failures) mapped to ours, so the CLI can give the right hint. */
const XML_CODES: Record<string, ErrorCode> = {
  SignatureDoesNotMatch: 'E_BAD_SIGNATURE',
  ExpiredToken: 'E_URL_EXPIRED',
  AccessDenied: 'E_FORBIDDEN',
  NoSuchKey: 'E_NOT_FOUND',
  EntityTooLarge: 'E_TOO_LARGE',
  BadDigest: 'E_HASH_MISMATCH',
  InvalidDigest: 'E_HASH_MISMATCH',
};

function statusCode(status: number): ErrorCode {
  if (status === 400) return 'E_BAD_REQUEST';
  if (status === 401) return 'E_UNAUTHENTICATED';
  if (status === 403) return 'E_FORBIDDEN';
  if (status === 404) return 'E_NOT_FOUND';
  if (status === 409) return 'E_CONFLICT';
  if (status === 413) return 'E_TOO_LARGE';
  if (status === 429 || status >= 500) return 'E_UNAVAILABLE';
  return 'E_INTERNAL';
}

/**
 * Turns a failed storage response into a StudioError: the code from a JSON `{error:{code,message}}` body (local
 * host), else from an XML `<Code>` (GCS), else from the status. `details.retryable` marks 5xx and 429.
 */
export async function storageError(res: Response, what: string): Promise<StudioError> {
  const text = (await res.text().catch(() => '')).slice(0, 64 * 1024);
  let code: ErrorCode = statusCode(res.status);
  let message = `storage answered ${res.status} for ${what}`;
  let storageCode: string | undefined;
  try {
    const err = (JSON.parse(text) as { error?: { code?: unknown; message?: unknown } }).error;
    if (isErrorCode(err?.code)) code = err.code;
    if (typeof err?.message === 'string') message = `${err.message} (${what})`;
  } catch {
    storageCode = /<Code>([^<]{1,100})<\/Code>/.exec(text)?.[1];
    const mapped = storageCode === undefined ? undefined : XML_CODES[storageCode];
    if (mapped !== undefined) code = mapped;
    // GCS reports an expired V4 URL as a 400 with this text rather than a dedicated code.
    if (/expired/i.test(text) && res.status < 500) code = 'E_URL_EXPIRED';
  }
  const retryable = res.status === 429 || res.status >= 500;
  const retryAfter = Number(res.headers.get('retry-after'));
  return new StudioError(code, message, {
    details: {
      status: res.status,
      retryable,
      ...(storageCode === undefined ? {} : { storageCode }),
      ...(Number.isFinite(retryAfter) && retryAfter > 0 ? { retryAfterMs: Math.min(retryAfter, 60) * 1000 } : {}),
    },
  });
}
