import { type AuthConfig, StudioError } from '@studio-lite/functions/contract';
import * as z from 'zod';

const authConfig = z.object({
  firebase: z
    .object({
      apiKey: z.string().min(1),
      projectId: z.string().min(1),
      googleClientId: z.string().min(1),
      googleClientSecret: z.string().nullable(),
      authorizeUrl: z.url(),
      tokenUrl: z.url(),
      identityToolkitUrl: z.url(),
      secureTokenUrl: z.url(),
    })
    .nullable(),
});

/** GET /v1/auth/config (no credential). A backend without the route (404) offers tokens only. */
export async function fetchAuthConfig(baseUrl: string): Promise<AuthConfig> {
  let res: Response;
  try {
    res = await fetch(`${baseUrl}/v1/auth/config`, { signal: AbortSignal.timeout(30_000) });
  } catch (cause) {
    throw new StudioError('E_UNAVAILABLE', `cannot reach the studio-lite API at ${baseUrl}`, { cause });
  }
  if (res.status === 404) {
    await res.body?.cancel();
    return { firebase: null };
  }
  if (!res.ok) {
    await res.body?.cancel();
    throw new StudioError(
      res.status >= 500 ? 'E_UNAVAILABLE' : 'E_INTERNAL',
      `GET /v1/auth/config answered ${res.status}`,
    );
  }
  const r = authConfig.safeParse(await res.json().catch(() => null));
  if (!r.success) throw new StudioError('E_INTERNAL', `${baseUrl}/v1/auth/config answered with an unexpected body`);
  return r.data;
}
