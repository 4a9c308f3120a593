import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';

/** Serves a web-standard handler on 127.0.0.1 (a minimal host for tests). */
export async function serveWeb(
  handler: (req: Request) => Promise<Response>,
): Promise<{ url: string; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      try {
        const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
        const r = await handler(
          new Request(new URL(req.url ?? '/', 'http://127.0.0.1'), {
            method: req.method,
            headers: req.headers as Record<string, string>,
            body: hasBody ? Buffer.concat(chunks) : undefined,
          }),
        );
        const body = Buffer.from(await r.arrayBuffer());
        res.writeHead(r.status, Object.fromEntries(r.headers));
        res.end(body);
      } catch {
        res.writeHead(500).end();
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
