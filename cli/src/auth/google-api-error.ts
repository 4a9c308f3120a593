import * as z from 'zod';

/** Error bodies of Google's APIs: `{error: {code, message}}` (Identity Toolkit, securetoken) or OAuth's
 * `{error: "invalid_grant", error_description}`. Returns a short reason such as INVALID_REFRESH_TOKEN. */
const apiError = z.object({ error: z.object({ message: z.string() }) });
const oauthError = z.object({ error: z.string(), error_description: z.string().optional() });

export function googleErrorReason(body: unknown, status: number): string {
  const a = apiError.safeParse(body);
  if (a.success) return a.data.error.message;
  const o = oauthError.safeParse(body);
  if (o.success) return o.data.error_description ? `${o.data.error}: ${o.data.error_description}` : o.data.error;
  return `HTTP ${status}`;
}

/** POSTs and returns the status and the parsed JSON body (null when the body is not JSON). */
export async function postForJson(
  url: string,
  init: { form?: Record<string, string>; json?: unknown },
): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': init.form ? 'application/x-www-form-urlencoded' : 'application/json' },
    body: init.form ? new URLSearchParams(init.form).toString() : JSON.stringify(init.json),
    signal: AbortSignal.timeout(30_000),
  });
  const text = await res.text();
  let body: unknown = null;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON: the caller reports the status
  }
  return { status: res.status, body };
}
