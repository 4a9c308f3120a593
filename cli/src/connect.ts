import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { homePaths } from '@studio-lite/functions/adapters/local/local-home.ts';
import { isErrorCode, StudioError } from '@studio-lite/functions/contract';
import { ApiClient, type TokenSource } from './api-client.ts';
import { FirebaseSession } from './auth/firebase-session.ts';
import { readSavedLogin, sameApiUrl } from './auth/saved-login.ts';
import type { CliConfig } from './config.ts';
import { ensurePrivateHome } from './private-home.ts';

export interface Connection {
  client: ApiClient;
  mode: 'local' | 'remote';
  close(): Promise<void>;
}

/**
 * The CLI always speaks HTTP: to the team deployment when configured, otherwise to the embedded local host that it
 * starts for the duration of the command (in a worker thread; in-process when running from TypeScript sources).
 */
export interface ConnectOptions {
  /**
   * Whether the command moves blobs through signed URLs (run, pull, logs, worker, ui). Without, the embedded backend
   * answers in-process (no worker thread, no socket): most of a listing command's start-up time was the local host.
   */
  transfers?: boolean;
}

export async function connect(cfg: CliConfig, opts: ConnectOptions = {}): Promise<Connection> {
  await ensurePrivateHome(cfg.home);
  if (cfg.apiUrl) {
    const token = readToken(cfg);
    return {
      client: new ApiClient(cfg.apiUrl.replace(/\/$/, ''), token, cfg.team),
      mode: 'remote',
      close: async () => {},
    };
  }
  if (opts.transfers === false) {
    const { openLocalApi } = await import('@studio-lite/functions/local-api');
    const api = await openLocalApi(cfg.home);
    return { client: new ApiClient(api.url, api.token, cfg.team, api.fetch), mode: 'local', close: () => api.close() };
  }
  const workerFile = fileURLToPath(new URL('./local-host-worker.js', import.meta.url));
  if (import.meta.url.endsWith('.ts') || process.env.STUDIOML_LOCAL_HOST === 'inprocess') {
    const { ensureLocalCredentials, startLocalServer } = await import('@studio-lite/functions/local');
    const server = await startLocalServer({ home: cfg.home });
    const creds = await ensureLocalCredentials(cfg.home, server.backend.deps);
    return { client: new ApiClient(server.url, creds.token, cfg.team), mode: 'local', close: () => server.close() };
  }
  const worker = new Worker(workerFile, { workerData: { home: cfg.home } });
  const ready = await new Promise<{ url: string; token: string }>((resolve, reject) => {
    worker.once('message', (m: { url?: string; token?: string; error?: { message: string; code: string | null } }) => {
      if (m.error) {
        const code = isErrorCode(m.error.code) ? m.error.code : 'E_INTERNAL';
        reject(new StudioError(code, `local backend failed to start: ${m.error.message}`));
      } else resolve(m as { url: string; token: string });
    });
    worker.once('error', reject);
  });
  return {
    client: new ApiClient(ready.url, ready.token, cfg.team),
    mode: 'local',
    close: () =>
      new Promise<void>((resolve) => {
        worker.once('exit', () => resolve());
        worker.postMessage('close');
      }),
  };
}

function readToken(cfg: CliConfig): string | TokenSource {
  if (process.env.STUDIOML_TOKEN) return process.env.STUDIOML_TOKEN;
  const login = readSavedLogin(cfg.home);
  if (login && sameApiUrl(login.api_url, cfg.apiUrl)) {
    // A Google sign-in is refreshed before any request that would carry an ID token about to expire.
    return login.kind === 'firebase' ? new FirebaseSession(cfg.home, login) : login.token;
  }
  // `studio-lite serve` on this machine: the local user's token.
  try {
    const saved = JSON.parse(readFileSync(homePaths(cfg.home).credentials, 'utf8')) as { token?: string };
    if (saved.token) return saved.token;
  } catch {
    // fall through
  }
  throw new StudioError('E_UNAUTHENTICATED', `no credentials for ${cfg.apiUrl}: run studio-lite login ${cfg.apiUrl}`);
}
