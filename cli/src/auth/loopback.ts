import { createServer, type Server } from 'node:http';
import { StudioError } from '@studio-lite/functions/contract';
import { codeFromRedirect } from './google-oauth.ts';

/** The page the browser shows after the redirect. */
function page(title: string, text: string): string {
  return `<!doctype html><meta charset="utf-8"><title>${title}</title><body style="font-family:sans-serif;margin:3em"><h2>${title}</h2><p>${text}</p></body>`;
}

export interface LoopbackListener {
  /** `http://127.0.0.1:<port>/callback` */
  redirectUri: string;
  /** Starts accepting the redirect that carries `state`; resolves with its code (rejects on Google's error). */
  code(state: string, timeoutMs: number): Promise<string>;
  close(): Promise<void>;
}

/**
 * A one-shot HTTP listener on an ephemeral loopback port for the OAuth redirect. Requests with another state (a
 * stale tab, a stray local request) get an error page and are otherwise ignored; the first redirect with our state
 * settles the login, successfully or with Google's error.
 */
export async function listenOnLoopback(): Promise<LoopbackListener> {
  let settle: ((r: { params: URLSearchParams }) => void) | undefined;
  let expected: string | undefined;
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const reply = (status: number, title: string, text: string) => {
      res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-store' });
      res.end(page(title, text));
    };
    if (req.method !== 'GET' || url.pathname !== '/callback') return reply(404, 'Not found', '');
    if (!expected || url.searchParams.get('state') !== expected) {
      return reply(400, 'Sign-in failed', 'This page belongs to another sign-in attempt.');
    }
    if (url.searchParams.get('code') && !url.searchParams.get('error')) {
      reply(200, 'Signed in', 'You can close this window and return to the terminal.');
    } else {
      reply(400, 'Sign-in failed', 'Google did not sign you in. Return to the terminal.');
    }
    settle?.({ params: url.searchParams });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as { port: number };
  return {
    redirectUri: `http://127.0.0.1:${port}/callback`,
    code(state, timeoutMs) {
      expected = state;
      return new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => {
          reject(new StudioError('E_UNAUTHENTICATED', `no sign-in completed within ${Math.round(timeoutMs / 1000)} s`));
        }, timeoutMs);
        settle = ({ params }) => {
          clearTimeout(timer);
          try {
            resolve(codeFromRedirect(params, state));
          } catch (err) {
            reject(err);
          }
        };
      });
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
