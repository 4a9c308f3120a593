import { StudioError } from '../contract/errors.ts';

/** The web session cookie: a personal token, HttpOnly + SameSite=Strict, never readable by page scripts. */
export const SESSION_COOKIE = 'studio_session';
/** Header the web app sends with every API call; a cross-site form or image cannot set it. */
export const UI_HEADER = 'x-studio-ui';

export function readCookie(req: Request, name: string): string | undefined {
  for (const part of (req.headers.get('cookie') ?? '').split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === name) return part.slice(i + 1).trim();
  }
  return undefined;
}

/**
 * The bearer a cookie session stands for, when the request has no Authorization header. Cookie credentials count
 * only with the UI header (CSRF: SameSite=Strict already keeps other sites' requests cookie-less; the header also
 * refuses same-site tricks such as a link that GETs an API route).
 */
export function sessionBearer(req: Request): string | undefined {
  const secret = readCookie(req, SESSION_COOKIE);
  if (!secret) return undefined;
  if (req.headers.get(UI_HEADER) !== '1') {
    throw new StudioError('E_FORBIDDEN', `a cookie session needs the ${UI_HEADER} header (the web app sends it)`);
  }
  return secret;
}

export function sessionCookie(secret: string, maxAgeSeconds: number, secure: boolean): string {
  const attrs = [`${SESSION_COOKIE}=${secret}`, 'HttpOnly', 'SameSite=Strict', 'Path=/', `Max-Age=${maxAgeSeconds}`];
  if (secure) attrs.push('Secure');
  return attrs.join('; ');
}
