import { ensureLocalCredentials, openLocalBackend } from '../../adapters/local/local-backend.ts';
import { createApiHandler } from '../../api/handler.ts';
import { sweepCrashLeftovers } from './crash-sweeps.ts';

/** The origin of an in-process API: never resolved, only parsed (no socket is opened for it). */
export const IN_PROCESS_ORIGIN = 'http://studio-lite.in-process';

export interface LocalApi {
  url: string;
  token: string;
  /** Same contract as `fetch` for the v1 API, answered by the handler in this process. */
  fetch: (input: string, init?: RequestInit) => Promise<Response>;
  close(): Promise<void>;
}

/**
 * The embedded backend's v1 API without a listening socket, for commands that only read or write records
 * (experiments, show, versions, team, token …). Starting the local host costs a worker thread, an HTTP server and
 * undici's connection machinery on every start; a command that never transfers a blob needs none of it. Signed URLs
 * handed out here point at IN_PROCESS_ORIGIN and cannot be fetched, so commands that move blobs use the local host.
 */
export async function openLocalApi(home: string): Promise<LocalApi> {
  const backend = openLocalBackend(home, { publicUrl: () => IN_PROCESS_ORIGIN });
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
