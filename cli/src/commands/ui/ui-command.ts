import { isStudioError, StudioError } from '@studio-lite/functions/contract';
import { ensureLocalCredentials, startLocalServer } from '@studio-lite/functions/local';
import { ApiClient } from '../../api-client.ts';
import { openBrowser } from '../../auth/browser.ts';
import { loadConfig } from '../../config.ts';
import { connect } from '../../connect.ts';
import { readUiServer, recordUiServer } from '../../home/ui-server-file.ts';
import { createLogger, type Logger } from '../../logger.ts';
import type { GlobalOpts } from '../../shared/with-connection.ts';

export interface UiOpts extends GlobalOpts {
  port?: number;
  open?: boolean;
  browserCommand?: string;
}

/** The sign-in URL: the code rides in the fragment, which browsers never send to a server or in a Referer. */
function signinUrl(base: string, code: string): string {
  return `${base.replace(/\/+$/, '')}/#/signin?code=${encodeURIComponent(code)}`;
}

async function answers(url: string): Promise<boolean> {
  try {
    const r = await fetch(`${url}/v1/auth/config`, { signal: AbortSignal.timeout(2000) });
    return r.ok;
  } catch {
    return false;
  }
}

async function show(url: string, opts: UiOpts, log: Logger): Promise<void> {
  process.stdout.write(`${url}\n`);
  if (opts.open === false) return;
  if (!(await openBrowser(url, opts.browserCommand))) log.info('studio-lite: open the URL above in a browser');
}

/**
 * `studio-lite ui`: prints a sign-in URL of the web UI (its only stdout line) and opens it. A deployment, or a
 * local server already running for this home (`serve`, another `ui`), is used as it is; otherwise the local server
 * starts here and runs until Ctrl-C.
 */
export async function uiCommand(opts: UiOpts): Promise<void> {
  const cfg = await loadConfig(opts.config);
  const log = createLogger({ quiet: opts.quiet, debug: opts.debug });
  const port = opts.port ?? 8765;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new StudioError('E_BAD_REQUEST', `invalid --port "${opts.port}"`);
  }
  const running = cfg.apiUrl ?? readUiServer(cfg.home)?.url;
  if (running && (cfg.apiUrl || (await answers(running)))) {
    const conn = await connect({ ...cfg, apiUrl: running });
    try {
      const { code } = await conn.client.createSigninCode();
      await show(signinUrl(running, code), opts, log);
    } catch (err) {
      // A deployment signs people in with Google in the page itself: its plain address is the sign-in URL.
      if (!isStudioError(err, 'E_UNAVAILABLE')) throw err;
      await show(`${running.replace(/\/+$/, '')}/`, opts, log);
    } finally {
      await conn.close();
    }
    return;
  }
  const server = await startLocalServer({
    home: cfg.home,
    port,
    log: (m, e) => log.warn(`${m}: ${(e as Error)?.stack ?? e}`),
  }).catch((cause: NodeJS.ErrnoException) => {
    if (cause.code === 'EADDRINUSE' || cause.code === 'EACCES') {
      throw new StudioError('E_UNAVAILABLE', `cannot listen on 127.0.0.1:${port}: ${cause.code} (try --port)`, {
        cause,
      });
    }
    throw cause;
  });
  const forget = recordUiServer(cfg.home, server.url);
  try {
    const creds = await ensureLocalCredentials(cfg.home, server.backend.deps);
    const { code } = await new ApiClient(server.url, creds.token, cfg.team).createSigninCode();
    await show(signinUrl(server.url, code), opts, log);
    log.info('studio-lite: web UI running; Ctrl-C stops it');
    await new Promise<void>((resolve) => {
      process.once('SIGINT', resolve);
      process.once('SIGTERM', resolve);
    });
  } finally {
    forget();
    await server.close();
  }
}
