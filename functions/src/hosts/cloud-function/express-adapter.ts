import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Request as FfRequest, Response as FfResponse } from '@google-cloud/functions-framework';

/** Adapts the functions-framework (Express) request to a web Request and writes the web Response back. */
export async function handleWithWebHandler(
  handler: (req: Request) => Promise<Response>,
  req: FfRequest,
  res: FfResponse,
): Promise<void> {
  const proto = (req.headers['x-forwarded-proto'] as string | undefined) ?? 'http';
  const url = `${proto}://${req.headers.host ?? 'localhost'}${req.originalUrl ?? req.url}`;
  const headers = new Headers();
  for (const [k, v] of Object.entries(req.headers)) {
    if (typeof v === 'string') headers.set(k, v);
    else if (Array.isArray(v)) headers.set(k, v.join(', '));
  }
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD';
  // functions-framework has already read the body; rawBody keeps the exact bytes (our handler parses JSON itself).
  const raw = (req as unknown as { rawBody?: Buffer }).rawBody;
  const body = hasBody
    ? (raw ?? Buffer.from(typeof req.body === 'string' ? req.body : JSON.stringify(req.body ?? {})))
    : undefined;
  const response = await handler(
    new Request(url, { method: req.method, headers, body: body === undefined ? undefined : new Uint8Array(body) }),
  );
  res.status(response.status);
  response.headers.forEach((v, k) => {
    res.setHeader(k, v);
  });
  if (response.body && !response.headers.get('content-type')?.startsWith('application/json')) {
    // Archives stream (Cloud Run sends them chunked); buffering a large version would exhaust the instance's memory.
    await pipeline(Readable.fromWeb(response.body as import('node:stream/web').ReadableStream), res).catch(() =>
      res.destroy(),
    );
    return;
  }
  res.send(Buffer.from(await response.arrayBuffer()));
}
