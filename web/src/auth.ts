import { api } from './api.ts';

export interface FirebaseClientConfig {
  apiKey: string;
  projectId: string;
  identityToolkitUrl: string;
}

/**
 * Local sign-in: `studio-lite ui` printed `/#/signin?code=…`; the code is traded once for an HttpOnly session
 * cookie and removed from the address bar and history at once.
 */
export async function exchangeCodeFromUrl(): Promise<string | null> {
  const m = /^#\/signin\?(.*)$/.exec(location.hash);
  if (!m) return null;
  const code = new URLSearchParams(m[1]).get('code');
  history.replaceState(null, '', `${location.pathname}#/experiments`);
  if (!code) return 'the sign-in link has no code';
  try {
    await api('POST', '/v1/ui/session', { code });
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

export async function authConfig(): Promise<FirebaseClientConfig | null> {
  return (await api<{ firebase: FirebaseClientConfig | null }>('GET', '/v1/auth/config')).firebase;
}

export async function signOut(): Promise<void> {
  await api('POST', '/v1/ui/logout').catch(() => undefined);
}
