import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { isErrorCode, StudioError } from '@studio-lite/functions/contract';
import { ApiClient, type TokenSource } from './api-client.ts';
import { FirebaseSession } from './auth/firebase-session.ts';
import { readSavedLogin, sameApiUrl } from './auth/saved-login.ts';
import type { CliConfig } from './config.ts';
import { cliPaths } from './home/cli-home.ts';
import { ensurePrivateHome } from './home/private-home.ts';

export interface Connection {
  client: ApiClient;
  mode: 'local' | 'remote';
  close(): Promise<void>;
}

export interface ConnectOptions {
  /**
   * Whether the command may move blobs through signed URLs (run, pull, logs, worker). Without, signed URLs of the
   * embedded backend cannot be fetched (record-only commands).
   */
  transfers?: boolean;
}

/**
 * The API of the team deployment when one is configured. Otherwise the embedded backend, answering in this process
 * (no socket): for a command that may transfer blobs, the local host that serves the signed storage URLs starts when
 * the first URL is signed, in a worker thread (so storage hashing and writes use the second core while this thread
 * hashes and uploads; in-process when running from TypeScript sources). A run with nothing new to upload never
 * starts it.
 */
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
  const { openLocalApi } = await import('@studio-lite/functions/local-api');
  let host: Promise<StorageHost> | null = null;
  let sourceKey: string | null = null;
  const storageHost = () => {
    host ??= startStorageHost(cfg.home).then((h) => {
      sourceKey = h.sourceKey ?? null;
      return h;
    });
    return host.then((h) => h.url);
  };
  const api = await openLocalApi(cfg.home, opts.transfers === false ? {} : { storageHost });
  return {
    client: new ApiClient(api.url, api.token, cfg.team, api.fetch, () => sourceKey),
    mode: 'local',
    close: async () => {
      await api.close();
      const started = await host?.catch(() => null);
      await started?.close();
    },
  };
}

interface StorageHost {
  url: string;
  /** Lets this process upload by naming a file (the kernel copies it; storage-routes.ts). */
  sourceKey?: string;
  close(): Promise<void>;
}

/** The local host for this home's signed URLs: a worker thread of this process (in-process from TS sources). */
async function startStorageHost(home: string): Promise<StorageHost> {
  if (import.meta.url.endsWith('.ts') || process.env.STUDIOML_LOCAL_HOST === 'inprocess') {
    const { startLocalServer } = await import('@studio-lite/functions/local');
    const sourceKey = randomBytes(32).toString('hex');
    const server = await startLocalServer({ home, sourceKey });
    return { url: server.url, sourceKey, close: () => server.close() };
  }
  const workerFile = fileURLToPath(new URL('./local-host-worker.js', import.meta.url));
  const worker = new Worker(workerFile, { workerData: { home } });
  const ready = await new Promise<{ url: string; sourceKey?: string }>((resolve, reject) => {
    worker.once(
      'message',
      (m: { url?: string; sourceKey?: string; error?: { message: string; code: string | null } }) => {
        if (m.error) {
          const code = isErrorCode(m.error.code) ? m.error.code : 'E_INTERNAL';
          reject(new StudioError(code, `local storage host failed to start: ${m.error.message}`));
        } else resolve(m as { url: string; sourceKey?: string });
      },
    );
    worker.once('error', reject);
  });
  return {
    url: ready.url,
    ...(ready.sourceKey ? { sourceKey: ready.sourceKey } : {}),
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
    const saved = JSON.parse(readFileSync(cliPaths(cfg.home).credentials, 'utf8')) as { token?: string };
    if (saved.token) return saved.token;
  } catch {
    // fall through
  }
  throw new StudioError('E_UNAUTHENTICATED', `no credentials for ${cfg.apiUrl}: run studio-lite login ${cfg.apiUrl}`);
}
