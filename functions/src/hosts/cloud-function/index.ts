import * as ff from '@google-cloud/functions-framework';
import { createOidcVerifier } from '../../adapters/gcp/internal-auth.ts';
import { createApiHandler } from '../../api/handler.ts';
import { createInternalHandler } from '../../api/internal-handler.ts';
import { readGcpConfig } from '../../config/gcp-config.ts';
import { withWebApp } from '../../web-host/web-handler.ts';
import { handleWithWebHandler } from './express-adapter.ts';

/**
 * The Cloud Function host: one HTTP function `api` around the same web-standard handler the local host uses.
 * Backends are opened at the first request (cold start) from environment variables only.
 */
let handler: ((req: Request) => Promise<Response>) | undefined;

const log = (msg: string, err: unknown) =>
  console.error(JSON.stringify({ severity: 'ERROR', message: msg, error: String((err as Error)?.stack ?? err) }));

async function getHandler(): Promise<(req: Request) => Promise<Response>> {
  if (!handler) {
    const { openGcpBackend } = await import('./gcp-backend.ts');
    const cfg = readGcpConfig();
    const deps = openGcpBackend(cfg);
    // The web app is served from the API's origin (no CORS; docs/ui.md).
    const api = withWebApp(createApiHandler(deps, { log }));
    // Internal routes answer only Cloud Tasks: OIDC tokens of the configured task service account for this URL.
    const internal =
      cfg.STUDIO_TASKS_SERVICE_ACCOUNT && cfg.STUDIO_PUBLIC_URL
        ? createInternalHandler(
            deps,
            createOidcVerifier({
              // The audience the tasks are created with (cloud-tasks-queue.ts drops trailing slashes the same way).
              audience: cfg.STUDIO_PUBLIC_URL.replace(/\/+$/, ''),
              allowedEmail: cfg.STUDIO_TASKS_SERVICE_ACCOUNT,
              ...(cfg.STUDIO_OIDC_JWKS_URL ? { jwksUrl: cfg.STUDIO_OIDC_JWKS_URL } : {}),
            }),
            { log },
          )
        : null;
    handler = (req) => (internal && new URL(req.url).pathname.startsWith('/internal/') ? internal(req) : api(req));
  }
  return handler;
}

ff.http('api', (req, res) => {
  void getHandler()
    .then((h) => handleWithWebHandler(h, req, res))
    .catch((err) => {
      console.error(JSON.stringify({ severity: 'ERROR', message: 'function failed to start', error: String(err) }));
      res.status(500).json({ error: { code: 'E_INTERNAL', message: 'internal error' } });
    });
});
