import { createApiHandler } from '../../api/handler.ts';
import { sweepCrashLeftovers } from './crash-sweeps.ts';
import { ensureLocalCredentials, openLocalBackend } from './local-backend.ts';

/** The origin of an in-process API: never resolved, only parsed (no socket is opened for it). */
export const IN_PROCESS_ORIGIN = 'http://studio-lite.in-process';

export interface LocalApi {
  url: string;
  token: string;
  /** Same contract as `fetch` for the v1 API, answered by the handler in this process. */
  fetch: (input: string, init?: RequestInit) => Promise<Response>;
  close(): Promise<void>;
}

export interface LocalApiOptions {
  /**
   * Starts (once) the local host that serves this home's signed storage URLs and resolves with its URL; called when
   * the first URL is signed. Without it signed URLs point at IN_PROCESS_ORIGIN and cannot be fetched (record-only
   * commands).
   */
  storageHost?: () => Promise<string>;
}

/**
 * The embedded backend's v1 API without a listening socket. Starting the local host costs a worker thread, an HTTP
 * server and undici's connection machinery; a command that never transfers a blob (experiments, show, team … and a
 * run with nothing new to upload) needs none of it, and one that does starts it at its first signed URL.
 */
export async function openLocalApi(home: string, opts: LocalApiOptions = {}): Promise<LocalApi> {
  const backend = openLocalBackend(home, { publicUrl: opts.storageHost ?? (() => IN_PROCESS_ORIGIN) });
  try {
    const handler = createApiHandler(backend.deps, { dataPath: home });
    const creds = await ensureLocalCredentials(home, backend.deps);
    const sweeps = sweepCrashLeftovers(backend);
    return {
      url: IN_PROCESS_ORIGIN,
      token: creds.token,
      fetch: (input, init) => handler(new Request(input, init)),
      close: () => sweeps.then(() => backend.close()),
    };
  } catch (err) {
    await backend.close();
    throw err;
  }
}
