import { randomBytes } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { noSpace } from '../../contract/no-space.ts';
import { ensureLocalCredentials } from './local-backend.ts';
import { startLocalServer } from './server.ts';

/**
 * Runs the local host in a worker thread of the CLI process, so that storage hashing and disk writes use the
 * second core while the main thread hashes and uploads. Protocol: posts {url, token} when ready; 'close' stops it.
 */
const { home, urlTtlSeconds } = workerData as { home: string; urlTtlSeconds?: number };
const port = parentPort;
if (!port) throw new Error('worker-entry must run in a worker thread');
try {
  // Uploads naming a local file (the kernel copies them) are for this process only: the key never leaves it.
  const sourceKey = randomBytes(32).toString('hex');
  const server = await startLocalServer({ home, urlTtlSeconds, sourceKey });
  const creds = await ensureLocalCredentials(home, server.backend.deps);
  port.on('message', (m) => {
    if (m === 'close') void server.close().then(() => port.close());
  });
  port.postMessage({ url: server.url, token: creds.token, sourceKey });
} catch (thrown) {
  const err = noSpace(thrown, home, null);
  port.postMessage({ error: { message: (err as Error).message, code: (err as { code?: string }).code ?? null } });
  port.close();
}
