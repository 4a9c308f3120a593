import { parentPort, workerData } from 'node:worker_threads';
import { ensureLocalCredentials } from '../../adapters/local/local-backend.ts';
import { noSpace } from '../../contract/no-space.ts';
import { startLocalServer } from './server.ts';

/**
 * Runs the local host in a worker thread of the CLI process, so that storage hashing and disk writes use the
 * second core while the main thread hashes and uploads. Protocol: posts {url, token} when ready; 'close' stops it.
 */
const { home, urlTtlSeconds } = workerData as { home: string; urlTtlSeconds?: number };
const port = parentPort;
if (!port) throw new Error('worker-entry must run in a worker thread');
try {
  const server = await startLocalServer({ home, urlTtlSeconds });
  const creds = await ensureLocalCredentials(home, server.backend.deps);
  port.on('message', (m) => {
    if (m === 'close') void server.close().then(() => port.close());
  });
  port.postMessage({ url: server.url, token: creds.token });
} catch (thrown) {
  const err = noSpace(thrown, home, null);
  port.postMessage({ error: { message: (err as Error).message, code: (err as { code?: string }).code ?? null } });
  port.close();
}
