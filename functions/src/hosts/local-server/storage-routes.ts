import { type FileHandle, open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DiskBlobStore } from '../../adapters/local/disk-blob-store.ts';
import { verifySigned } from '../../adapters/local/hmac-signer.ts';
import { StudioError } from '../../contract/errors.ts';

export type OnStored = (blobs: { key: string; size: number; sha256: string }[]) => Promise<void>;

/** Pack members up to this size are verified in memory and written with sync calls. */
const SMALL_MEMBER = 256 * 1024;

/** Serves the local blob store's signed URLs: PUT/GET /storage/<key>, PUT /storage-pack/<digest>. */
export async function handleStorage(
  store: DiskBlobStore,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  onStored: OnStored,
): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const method = req.method ?? 'GET';
  if (url.pathname.startsWith('/storage-pack/')) {
    const bound = verifySigned(store.secret, method, url.pathname, url.searchParams, ['size', 'ct'], now);
    if ((req.headers['content-type'] ?? '') !== bound.ct) {
      throw new StudioError('E_BAD_SIGNATURE', `content-type must be ${bound.ct} as signed`);
    }
    const digest = url.pathname.slice('/storage-pack/'.length);
    await receivePack(store, req, digest, Number(bound.size), onStored);
    return reply(res, 201, { stored: true });
  }
  // The signature covers the raw path, so it is checked before the path is decoded.
  const raw = url.pathname.slice('/storage/'.length);
  if (method === 'PUT') {
    const bound = verifySigned(store.secret, method, url.pathname, url.searchParams, ['size', 'sha256', 'ct'], now);
    const key = decodeKey(raw);
    if ((req.headers['content-type'] ?? '') !== bound.ct) {
      throw new StudioError('E_BAD_SIGNATURE', `content-type must be ${bound.ct} as signed`);
    }
    const size = Number(bound.size);
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) !== size) {
      throw new StudioError('E_SIZE_MISMATCH', `content-length ${declared} differs from the signed size ${size}`);
    }
    await store.writeVerified(key, req, size, bound.sha256 as string);
    await onStored([{ key, size, sha256: bound.sha256 as string }]);
    return reply(res, 201, { stored: true });
  }
  if (method === 'GET') {
    verifySigned(store.secret, method, url.pathname, url.searchParams, [], now);
    const file = store.fileOf(decodeKey(raw));
    // Open and check before the 200 goes out: after the headers, a failed read can only cut the body short.
    const handle = await openForRead(file);
    let size: number;
    try {
      const s = await handle.stat();
      if (!s.isFile()) throw new StudioError('E_NOT_FOUND', 'object not found');
      size = s.size;
    } catch (err) {
      await handle.close();
      throw err;
    }
    if (size <= WHOLE_READ_MAX) {
      // One exact-size read: a read stream allocates its 1 MiB buffer even for a 4 KiB blob, and a cold pull of
      // 20,000 small blobs spent 12 s of this thread in the garbage collector for them.
      let body: Buffer;
      try {
        body = await readWhole(handle, size);
      } finally {
        await handle.close();
      }
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
      res.end(body);
      return;
    }
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': size });
    await new Promise<void>((resolve, reject) => {
      const rs = handle.createReadStream({ highWaterMark: 1 << 20 });
      rs.on('error', reject);
      // A client that hangs up stops the read, which closes the handle (autoClose).
      res.on('close', () => {
        rs.destroy();
        resolve();
      });
      rs.pipe(res);
    });
    return;
  }
  throw new StudioError('E_BAD_REQUEST', `method ${method} not allowed on storage`);
}

/** Objects up to this size are read into memory in one go and sent with one write; larger ones are streamed. */
const WHOLE_READ_MAX = 256 * 1024;

/** Exactly `size` bytes from the start of the file (a file cut short is an error, not a short body). */
async function readWhole(handle: FileHandle, size: number): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  while (off < size) {
    const { bytesRead } = await handle.read(buf, off, size - off, off);
    if (bytesRead === 0) throw new StudioError('E_INTERNAL', `stored object is ${off} bytes, expected ${size}`);
    off += bytesRead;
  }
  return buf;
}

/** A missing object is E_NOT_FOUND; running out of descriptors under load is E_UNAVAILABLE, which clients retry. */
async function openForRead(file: string): Promise<FileHandle> {
  try {
    return await open(file, 'r');
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'EMFILE' || code === 'ENFILE') {
      throw new StudioError('E_UNAVAILABLE', 'the local storage host is out of file descriptors; retry', { cause });
    }
    throw new StudioError('E_NOT_FOUND', 'object not found', { cause });
  }
}

function decodeKey(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch (cause) {
    throw new StudioError('E_BAD_REQUEST', 'malformed percent-encoding in the storage path', { cause });
  }
}

async function receivePack(
  store: DiskBlobStore,
  req: IncomingMessage,
  digest: string,
  total: number,
  onStoredMany: OnStored,
): Promise<void> {
  if (!/^[0-9a-f]{64}$/.test(digest)) throw new StudioError('E_BAD_SIGNATURE', 'bad pack id');
  let members: { key: string; size: number; sha256: string }[];
  try {
    members = JSON.parse(Buffer.from(await store.get(`.packs/${digest}.json`)).toString('utf8'));
  } catch (cause) {
    throw new StudioError('E_NOT_FOUND', 'pack description not found (expired or already used)', { cause });
  }
  const reader = new ByteReader(req[Symbol.asyncIterator]() as AsyncIterator<Uint8Array>);
  let received = 0;
  for (const m of members) {
    if (m.size <= SMALL_MEMBER) {
      const parts: Uint8Array[] = [];
      let n = 0;
      for await (const c of reader.take(m.size)) {
        parts.push(c);
        n += c.length;
      }
      if (n !== m.size) throw new StudioError('E_SIZE_MISMATCH', `pack member ${m.sha256} is truncated`);
      store.writeSmallVerified(m.key, Buffer.concat(parts, n), m.sha256);
    } else {
      await store.writeVerified(m.key, reader.take(m.size), m.size, m.sha256);
    }
    received += m.size;
  }
  if (received !== total || !(await reader.atEnd())) {
    throw new StudioError('E_SIZE_MISMATCH', 'pack body is longer than its members');
  }
  await onStoredMany(members);
  // The description stays until it is swept: another plan for the same members may hold the same, still valid, URL.
}

/** Hands out exact-length slices of a byte stream. */
class ByteReader {
  private pending: Uint8Array | undefined;
  constructor(private readonly it: AsyncIterator<Uint8Array>) {}

  async *take(n: number): AsyncGenerator<Uint8Array> {
    let left = n;
    while (left > 0) {
      let chunk = this.pending;
      this.pending = undefined;
      if (!chunk) {
        const r = await this.it.next();
        if (r.done) return; // short body: writeVerified reports the size mismatch
        chunk = r.value;
      }
      if (chunk.length > left) {
        this.pending = chunk.subarray(left);
        chunk = chunk.subarray(0, left);
      }
      left -= chunk.length;
      yield chunk;
    }
  }

  async atEnd(): Promise<boolean> {
    if (this.pending && this.pending.length > 0) return false;
    for (;;) {
      const r = await this.it.next();
      if (r.done) return true;
      if (r.value.length > 0) return false;
    }
  }
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
