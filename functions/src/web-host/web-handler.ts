import { webAssets } from './web-assets.ts';

type Handler = (req: Request) => Promise<Response>;

/**
 * What the page may load: only its own origin, plus Google's sign-in (Identity Platform popup and token endpoints)
 * and https images (signed storage URLs of previews). No inline script.
 */
const CSP = [
  "default-src 'self'",
  "script-src 'self' https://apis.google.com https://www.gstatic.com",
  "style-src 'self'",
  "img-src 'self' data: blob: https:",
  "connect-src 'self' https: http://127.0.0.1:* http://localhost:*",
  'frame-src https://*.firebaseapp.com https://*.web.app https://accounts.google.com http://127.0.0.1:* http://localhost:*',
  "frame-ancestors 'none'",
  "base-uri 'none'",
  "form-action 'self'",
].join('; ');

/**
 * Wraps the API handler with the web app: `/` is the page, `/ui/<file>` its assets; everything else goes to the
 * API. Both hosts (local server, Cloud Function) use it, so the app is served from the API's own origin.
 */
export function withWebApp(api: Handler): Handler {
  return async (req) => {
    const url = new URL(req.url);
    const path = url.pathname;
    if ((req.method !== 'GET' && req.method !== 'HEAD') || path.startsWith('/v1/') || path.startsWith('/internal/')) {
      return api(req);
    }
    const name = path === '/' || path === '/index.html' ? 'index.html' : path.startsWith('/ui/') ? path.slice(4) : '';
    const a = name ? webAssets().get(name) : undefined;
    if (!a) return api(req);
    const headers: Record<string, string> = {
      'content-type': a.type,
      etag: a.etag,
      // Always revalidated (cheap: 304 by ETag), so a new build is picked up at once.
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
    };
    if (name === 'index.html') {
      headers['content-security-policy'] = CSP;
      headers['x-frame-options'] = 'DENY';
    }
    if (req.headers.get('if-none-match') === a.etag) return new Response(null, { status: 304, headers });
    return new Response(req.method === 'HEAD' ? null : (a.body as Uint8Array<ArrayBuffer>), { status: 200, headers });
  };
}
