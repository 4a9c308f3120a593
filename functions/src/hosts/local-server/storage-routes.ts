import { timingSafeEqual } from 'node:crypto';
import { type FileHandle, open } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { DiskBlobStore } from '../../adapters/local/disk-blob-store.ts';
import { verifySigned } from '../../adapters/local/hmac-signer.ts';
import { StudioError } from '../../contract/errors.ts';

export type OnStored = (blobs: { key: string; size: number; sha256: string }[]) => Promise<void>;

/** Serves the local blob store's signed URLs: PUT/GET /storage/<key> (GET with one `Range`), PUT /storage-pack/<id>. */
export async function handleStorage(
  store: DiskBlobStore,
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  onStored: OnStored,
  sourceKey?: string,
): Promise<void> {
  const now = Math.floor(Date.now() / 1000);
  const method = req.method ?? 'GET';
  if (url.pathname.startsWith('/storage-pack/')) {
    const bound = verifySigned(store.secret, method, url.pathname, url.searchParams, ['size', 'ct'], now);
    if ((req.headers['content-type'] ?? '') !== bound.ct) {
      throw new StudioError('E_BAD_SIGNATURE', `content-type must be ${bound.ct} as signed`);
    }
    const d = await store.packDescription(url.pathname.slice('/storage-pack/'.length));
    const total = d.members.reduce((n, m) => n + m.size, 0);
    if (total !== Number(bound.size))
      throw new StudioError('E_BAD_SIGNATURE', 'pack size differs from its description');
    const declared = req.headers['content-length'];
    if (declared !== undefined && Number(declared) !== total) {
      throw new StudioError('E_SIZE_MISMATCH', `content-length ${declared} differs from the signed size ${total}`);
    }
    // A pack is recorded when the client registers it (core/packs.ts), not here. Its key is fresh per plan; a second
    // PUT of the same still-valid URL rewrites the same verified bytes.
    await store.writePackVerified(d.key, req, d.members);
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
    const source = req.headers['x-studio-source'];
    if (declared !== undefined && Number(declared) !== size && source === undefined) {
      throw new StudioError('E_SIZE_MISMATCH', `content-length ${declared} differs from the signed size ${size}`);
    }
    if (source !== undefined) {
      // A local file instead of a body: only for the CLI process this host runs in (it alone knows the key), and
      // still bound by the signature (key, size, sha256) and checked by hashing the copy.
      const given = req.headers['x-studio-source-key'];
      if (!sourceKey || typeof given !== 'string' || !sameSecret(given, sourceKey) || typeof source !== 'string') {
        throw new StudioError('E_FORBIDDEN', 'this host does not take uploads from local files');
      }
      await store.writeFromFile(key, decodeKey(source), size, bound.sha256 as string);
    } else await store.writeVerified(key, req, size, bound.sha256 as string);
    await onStored([{ key, size, sha256: bound.sha256 as string }]);
    return reply(res, 201, { stored: true });
  }
  if (method === 'GET') {
    // A URL signed for a range (a pack's members) serves that range and nothing else, whatever `Range` says.
    const ranged = url.searchParams.has('range');
    const bound = verifySigned(store.secret, method, url.pathname, url.searchParams, ranged ? ['range'] : [], now);
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
    const range = parseRange(ranged ? `bytes=${bound.range}` : req.headers.range, size);
    if (range === 'unsatisfiable') {
      await handle.close();
      res.writeHead(416, { 'content-range': `bytes */${size}`, 'content-length': 0 });
      res.end();
      return;
    }
    if (range) {
      // One range of a pack (core/packs.ts): what GCS answers for `Range: bytes=a-b`.
      let body: Buffer;
      try {
        body = await readWhole(handle, range.length, range.offset);
      } finally {
        await handle.close();
      }
      res.writeHead(206, {
        'content-type': 'application/octet-stream',
        'content-length': range.length,
        'content-range': `bytes ${range.offset}-${range.offset + range.length - 1}/${size}`,
      });
      res.end(body);
      return;
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

function sameSecret(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

/** Objects up to this size are read into memory in one go and sent with one write; larger ones are streamed. */
const WHOLE_READ_MAX = 256 * 1024;

/** Largest range one GET may ask for (ranges are read into memory); the client asks for at most 16 MiB. */
const MAX_RANGE = 64 << 20;

/**
 * The one byte range of a `Range: bytes=a-b` header (also `a-` and `-n`), clamped to the object as RFC 9110 says;
 * null for no header or a form this host does not serve (several ranges), which then gets the whole object.
 */
function parseRange(
  header: string | undefined,
  size: number,
): { offset: number; length: number } | 'unsatisfiable' | null {
  if (!header) return null;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!m || (m[1] === '' && m[2] === '')) return null;
  let first: number;
  let last: number;
  if (m[1] === '') {
    first = Math.max(0, size - Number(m[2]));
    last = size - 1;
  } else {
    first = Number(m[1]);
    last = m[2] === '' ? size - 1 : Math.min(Number(m[2]), size - 1);
  }
  if (first >= size || last < first) return 'unsatisfiable';
  const length = last - first + 1;
  if (length > MAX_RANGE) throw new StudioError('E_TOO_LARGE', `a range may span at most ${MAX_RANGE} bytes`);
  return { offset: first, length };
}

/** Exactly `size` bytes from `start` (a file cut short is an error, not a short body). */
async function readWhole(handle: FileHandle, size: number, start = 0): Promise<Buffer> {
  const buf = Buffer.allocUnsafe(size);
  let off = 0;
  while (off < size) {
    const { bytesRead } = await handle.read(buf, off, size - off, start + off);
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

function reply(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
