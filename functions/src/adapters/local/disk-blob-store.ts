import { createHash, randomBytes } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  rm,
  stat,
  unlink,
  writeFile,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { StudioError } from '../../contract/errors.ts';
import { noSpace } from '../../contract/no-space.ts';
import type { SignedRequest } from '../../contract/transfer.ts';
import { packHasher } from '../../core/packs.ts';
import type { BlobStore, StoredObject, UploadConstraint } from '../../core/ports.ts';
import { signedQuery } from './hmac-signer.ts';
import { PRIVATE_BLOB_MODE, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from './private-files.ts';

export interface DiskBlobStoreOptions {
  /** Folder that holds the objects (keys become relative paths below it). */
  root: string;
  /** HMAC key for signed URLs (32 random bytes, kept 0600 by the caller). */
  secret: Buffer;
  /**
   * Base URL of the host that serves signed URLs; asked at signing time, because the port is known late and a CLI
   * starts that host only when its first URL is signed.
   */
  publicUrl: () => string | Promise<string>;
}

/** Blobs at or above this size are fsynced before they become visible; smaller ones follow git's loose-object rule. */
export const FSYNC_MIN_BYTES = 256 * 1024;

export interface DiskBlobStore extends BlobStore {
  readonly root: string;
  readonly secret: Buffer;
  /** Absolute file of a key; throws E_BAD_PATH for a key that is not a plain relative path. */
  fileOf(key: string): string;
  /**
   * Streams `body` into `key`, hashing on the way; the object appears (atomic rename) only if size and sha256 match.
   * Throws E_SIZE_MISMATCH / E_HASH_MISMATCH and stores nothing.
   */
  writeVerified(key: string, body: AsyncIterable<Uint8Array>, size: number, sha256: string): Promise<void>;
  /** Removes pack descriptions older than a day (their URLs expired long ago). Returns how many. */
  sweepPackDescriptions(now?: number): Promise<number>;
  /**
   * Streams a pack's body into `key`, hashing each member as it passes; the pack appears only if every member matches
   * and the body is exactly their total. Throws E_SIZE_MISMATCH / E_HASH_MISMATCH and stores nothing.
   */
  writePackVerified(key: string, body: AsyncIterable<Uint8Array>, members: PackDescription['members']): Promise<void>;
  /**
   * Stores `key` from a file of this machine (the embedded backend's own CLI uploading: storage-routes.ts): the
   * kernel copies the bytes (copy_file_range, or a clone where the file system has them), then the copy is hashed
   * once and renamed into place only if size and sha256 match, so the bytes cross user space once instead of being
   * read, sent through a socket, received and written. Throws E_SIZE_MISMATCH / E_HASH_MISMATCH, stores nothing.
   */
  writeFromFile(key: string, source: string, size: number, sha256: string): Promise<void>;
  /** The description signPackUpload stored for pack `id` (E_NOT_FOUND once swept). */
  packDescription(id: string): Promise<PackDescription>;
  /**
   * Removes temp files a crash left behind older than an hour: store/.tmp always, `.tmp-*` beside blobs at most once
   * an hour. Returns how many.
   */
  sweepTemp(now?: number): Promise<number>;
}

/** What signPackUpload binds to a pack id: the pack's key and its members in body order. */
export interface PackDescription {
  key: string;
  members: { sha256: string; size: number }[];
}

const OCTET = 'application/octet-stream';
const WRITE_BATCH_BYTES = 4 << 20;

/** Pack descriptions outlive their URLs by this much before a sweep removes them. */
const PACK_DESCRIPTION_TTL_MS = 24 * 3600 * 1000;

/** Temp files older than this are leftovers of a crashed writer (no upload takes an hour per blob). */
const TEMP_TTL_MS = 3600 * 1000;

/** The buffers after their first `n` bytes. */
function dropBytes(bufs: Uint8Array[], n: number): Uint8Array[] {
  let i = 0;
  let left = n;
  while (i < bufs.length && left >= (bufs[i] as Uint8Array).length) {
    left -= (bufs[i] as Uint8Array).length;
    i += 1;
  }
  const rest = bufs.slice(i);
  if (left > 0 && rest[0]) rest[0] = rest[0].subarray(left);
  return rest;
}

const KEY_RE = /^[A-Za-z0-9._-]+(\/[A-Za-z0-9._-]+)*$/;

export function createDiskBlobStore(opts: DiskBlobStoreOptions): DiskBlobStore {
  const { root, secret } = opts;
  const tmpDir = join(root, '.tmp');

  const fileOf = (key: string): string => {
    if (!KEY_RE.test(key) || key.split('/').some((s) => s === '.' || s === '..')) {
      throw new StudioError('E_BAD_PATH', `invalid storage key "${key}"`);
    }
    return join(root, ...key.split('/'));
  };

  const tempFile = async (): Promise<string> => {
    await mkdir(tmpDir, { recursive: true, mode: PRIVATE_DIR_MODE });
    return join(tmpDir, `${Date.now().toString(36)}-${randomBytes(8).toString('hex')}`);
  };

  const notFound = (key: string, cause: unknown) =>
    new StudioError('E_NOT_FOUND', `object ${key} not found`, { cause });

  const store: DiskBlobStore = {
    root,
    secret,
    verifiesOnUpload: true,
    fileOf,
    async stat(key) {
      try {
        const s = await stat(fileOf(key));
        return s.isFile() ? { size: s.size, createdAt: new Date(s.mtimeMs).toISOString() } : null;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
        throw err;
      }
    },
    async put(key, data) {
      const file = fileOf(key);
      const tmp = await tempFile();
      try {
        await writeFile(tmp, data, { mode: PRIVATE_FILE_MODE });
        await mkdir(dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
        await rename(tmp, file);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw noSpace(err, root, data.byteLength);
      }
    },
    async get(key) {
      try {
        return await readFile(fileOf(key));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(key, err);
        throw err;
      }
    },
    async read(key, range) {
      const file = fileOf(key);
      try {
        await stat(file);
      } catch (err) {
        throw notFound(key, err);
      }
      if (range?.length === 0) return (async function* () {})();
      const bounds = range ? { start: range.offset, end: range.offset + range.length - 1 } : {};
      return createReadStream(file, { highWaterMark: 1 << 20, ...bounds });
    },
    async delete(key) {
      await rm(fileOf(key), { force: true });
    },
    async promote(from, to) {
      const [src, dst] = [fileOf(from), fileOf(to)];
      if (!(await store.stat(from))) throw notFound(from, null);
      if (await store.stat(to)) {
        await rm(src, { force: true });
        return false;
      }
      await mkdir(dirname(dst), { recursive: true, mode: PRIVATE_DIR_MODE });
      try {
        await rename(src, dst);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw notFound(from, err);
        throw err;
      }
      return true;
    },
    async list(prefix, q) {
      // Keys are relative paths; the prefix's folder part is where the walk starts.
      const cut = prefix.lastIndexOf('/');
      const base = cut < 0 ? '' : prefix.slice(0, cut);
      if (base) fileOf(base);
      const out: StoredObject[] = [];
      const walk = async (rel: string): Promise<boolean> => {
        const dir = rel ? join(root, ...rel.split('/')) : root;
        const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
          if (err.code === 'ENOENT' || err.code === 'ENOTDIR') return [];
          throw err;
        });
        const names = entries
          .filter((e) => !e.name.startsWith('.')) // temp files, .tmp/ and .packs/ are never objects
          .map((e) => ({ key: rel ? `${rel}/${e.name}` : e.name, dir: e.isDirectory(), file: e.isFile() }))
          .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
        for (const e of names) {
          if (e.dir) {
            // A folder whose every key sorts at or before `after`, or outside the prefix, is skipped whole.
            const sub = `${e.key}/`;
            if (q.after !== undefined && `${sub}\uffff` <= q.after) continue;
            if (!(sub.startsWith(prefix) || prefix.startsWith(sub))) continue;
            if (!(await walk(e.key))) return false;
          } else if (e.file && e.key.startsWith(prefix) && (q.after === undefined || e.key > q.after)) {
            const s = await stat(join(dir, e.key.slice(e.key.lastIndexOf('/') + 1))).catch(() => null);
            if (!s) continue; // removed while listing
            out.push({ key: e.key, size: s.size, createdAt: new Date(s.mtimeMs).toISOString() });
            if (out.length >= q.limit) return false;
          }
        }
        return true;
      };
      await walk(base);
      return out;
    },
    async signUpload(key, c: UploadConstraint): Promise<SignedRequest> {
      fileOf(key);
      const expires = Math.floor(c.expiresAt.getTime() / 1000);
      const path = `/storage/${key}`;
      const qs = signedQuery(secret, {
        method: 'PUT',
        path,
        expires,
        bound: { size: String(c.size), sha256: c.sha256, ct: OCTET },
      });
      return {
        method: 'PUT',
        url: `${await opts.publicUrl()}${path}?${qs}`,
        headers: { 'content-type': OCTET },
        expiresAt: c.expiresAt.toISOString(),
      };
    },
    async signDownload(key, expiresAt, range) {
      fileOf(key);
      const expires = Math.floor(expiresAt.getTime() / 1000);
      const path = `/storage/${key}`;
      // The host serves a bound range and nothing else of the object (storage-routes.ts).
      const bound: Record<string, string> = range
        ? { range: `${range.offset}-${range.offset + range.length - 1}` }
        : {};
      const qs = signedQuery(secret, { method: 'GET', path, expires, bound });
      return {
        method: 'GET',
        url: `${await opts.publicUrl()}${path}?${qs}`,
        headers: {},
        expiresAt: expiresAt.toISOString(),
      };
    },
    async sweepPackDescriptions(now = Date.now()) {
      const dir = join(root, '.packs');
      let removed = 0;
      for (const name of await readdir(dir).catch(() => [] as string[])) {
        const file = join(dir, name);
        const s = await stat(file).catch(() => null);
        if (s && now - s.mtimeMs > PACK_DESCRIPTION_TTL_MS) {
          await rm(file, { force: true });
          removed += 1;
        }
      }
      return removed;
    },
    async sweepTemp(now = Date.now()) {
      let removed = 0;
      const old = async (file: string) => {
        const st = await lstat(file).catch(() => null);
        if (st?.isFile() && now - st.mtimeMs > TEMP_TTL_MS) {
          await rm(file, { force: true });
          removed += 1;
        }
      };
      const walk = async (dir: string, allTemp: boolean): Promise<void> => {
        for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
          const abs = join(dir, e.name);
          if (e.isDirectory()) {
            if (e.name !== '.packs') await walk(abs, allTemp || e.name === '.tmp');
          } else if (allTemp || e.name.startsWith('.tmp')) await old(abs);
        }
      };
      await walk(tmpDir, true);
      // `.tmp-*` files beside blobs need a walk of every fan-out folder (~0.2 s for 20,000 blobs): at most once an
      // hour, remembered by the stamp file's mtime, so a CLI command on a large store does not pay it every time.
      const stamp = join(root, '.sweep-stamp');
      const last = await stat(stamp).catch(() => null);
      if (!last || now - last.mtimeMs > TEMP_TTL_MS) {
        for (const e of await readdir(root, { withFileTypes: true }).catch(() => [])) {
          if (e.isDirectory() && !e.name.startsWith('.')) await walk(join(root, e.name), false);
        }
        await writeFile(stamp, '', { mode: PRIVATE_FILE_MODE }).catch(() => {});
      }
      return removed;
    },
    async signPackUpload(key, id, members, expiresAt) {
      // The member list is stored next to the objects under the pack's id (which is its digest with the plan's
      // nonce), so the URL stays short and the host verifies each member on arrival.
      fileOf(key);
      if (!/^[0-9a-f]{64}$/.test(id)) throw new StudioError('E_BAD_PATH', `invalid pack id "${id}"`);
      const description: PackDescription = { key, members: members.map((m) => ({ sha256: m.sha256, size: m.size })) };
      await store.put(`.packs/${id}.json`, Buffer.from(JSON.stringify(description)), 'application/json');
      const expires = Math.floor(expiresAt.getTime() / 1000);
      const path = `/storage-pack/${id}`;
      const total = members.reduce((n, m) => n + m.size, 0);
      const qs = signedQuery(secret, { method: 'PUT', path, expires, bound: { size: String(total), ct: OCTET } });
      return {
        method: 'PUT',
        url: `${await opts.publicUrl()}${path}?${qs}`,
        headers: { 'content-type': OCTET },
        expiresAt: expiresAt.toISOString(),
      };
    },
    async packDescription(id) {
      if (!/^[0-9a-f]{64}$/.test(id)) throw new StudioError('E_BAD_SIGNATURE', 'bad pack id');
      try {
        return JSON.parse(Buffer.from(await store.get(`.packs/${id}.json`)).toString('utf8')) as PackDescription;
      } catch (cause) {
        throw new StudioError('E_NOT_FOUND', 'pack description not found (expired or already swept)', { cause });
      }
    },
    async writeVerified(key, body, size, sha256) {
      const hash = createHash('sha256');
      await writeChecked(key, body, size, {
        update: (chunk) => hash.update(chunk),
        check: () => {
          if (hash.digest('hex') !== sha256)
            throw new StudioError('E_HASH_MISMATCH', 'uploaded bytes do not match sha256');
        },
      });
    },
    async writeFromFile(key, source, size, sha256) {
      const file = fileOf(key);
      const tmp = await tempFile().catch((err) => Promise.reject(noSpace(err, root, size)));
      let ok = false;
      try {
        await copyFile(source, tmp, constants.COPYFILE_FICLONE);
        await chmod(tmp, PRIVATE_BLOB_MODE);
        const fh = await open(tmp, 'r');
        try {
          const hash = createHash('sha256');
          const buf = Buffer.allocUnsafe(4 << 20);
          let n = 0;
          for (let r = 1; r > 0; n += r) {
            ({ bytesRead: r } = await fh.read(buf, 0, buf.length, n));
            hash.update(buf.subarray(0, r));
          }
          if (n !== size) throw new StudioError('E_SIZE_MISMATCH', `source has ${n} bytes, declared ${size}`);
          if (hash.digest('hex') !== sha256) {
            throw new StudioError('E_HASH_MISMATCH', 'source bytes do not match sha256');
          }
          if (size >= FSYNC_MIN_BYTES) await fh.datasync();
        } finally {
          await fh.close();
        }
        await mkdir(dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
        await rename(tmp, file);
        ok = true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT' || code === 'EACCES' || code === 'EISDIR') {
          throw new StudioError('E_HASH_MISMATCH', 'the source file is gone or unreadable since it was hashed', {
            cause: err,
          });
        }
        throw noSpace(err, root, size);
      } finally {
        if (!ok) await unlink(tmp).catch(() => {});
      }
    },
    async writePackVerified(key, body, members) {
      // Each member is hashed as its bytes stream past; the pack is stored (one file, one fsync) only if all match.
      const hasher = packHasher(members, (sha256, i) => {
        throw new StudioError('E_HASH_MISMATCH', `pack member ${i} does not match its sha256 ${sha256}`);
      });
      const size = members.reduce((n, m) => n + m.size, 0);
      await writeChecked(key, body, size, {
        update: (chunk) => hasher.update(chunk),
        check: () => {
          if (hasher.missing().length > 0) {
            throw new StudioError('E_SIZE_MISMATCH', 'pack body is shorter than its members');
          }
        },
      });
    },
  };

  /**
   * Streams `body` into `key` through a temp file, feeding every chunk to `v.update`; the object appears (atomic
   * rename) only if the size matches and `v.check` passes. Throws and stores nothing otherwise.
   */
  async function writeChecked(
    key: string,
    body: AsyncIterable<Uint8Array>,
    size: number,
    v: { update: (chunk: Uint8Array) => void; check: () => void },
  ): Promise<void> {
    {
      const file = fileOf(key);
      const tmp = await tempFile().catch((err) => Promise.reject(noSpace(err, root, size)));
      const fh = await open(tmp, 'w', PRIVATE_BLOB_MODE).catch((err) => Promise.reject(noSpace(err, root, size)));
      let n = 0;
      let ok = false;
      // Socket chunks are ~64 KiB: coalesce them so a GiB costs hundreds of writes, not tens of thousands.
      let pending: Uint8Array[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (pendingBytes === 0) return;
        let bufs = pending;
        pending = [];
        pendingBytes = 0;
        // writev may write less than asked (a disk filling up) without failing: write the rest, which then fails
        // with ENOSPC instead of leaving a short file that passed the size and hash checks.
        while (bufs.length > 0) {
          const { bytesWritten } = await fh.writev(bufs);
          if (bytesWritten === 0) throw Object.assign(new Error('no space left on device'), { code: 'ENOSPC' });
          bufs = dropBytes(bufs, bytesWritten);
        }
      };
      try {
        for await (const chunk of body) {
          n += chunk.length;
          if (n > size) throw new StudioError('E_SIZE_MISMATCH', `upload is larger than the declared ${size} bytes`);
          v.update(chunk);
          pending.push(chunk);
          pendingBytes += chunk.length;
          if (pendingBytes >= WRITE_BATCH_BYTES) await flush();
        }
        await flush();
        if (n !== size) throw new StudioError('E_SIZE_MISMATCH', `upload has ${n} bytes, declared ${size}`);
        v.check();
        if (size >= FSYNC_MIN_BYTES) await fh.datasync();
        const written = (await fh.stat()).size;
        if (written !== size) throw new StudioError('E_SIZE_MISMATCH', `stored ${written} of ${size} bytes`);
        ok = true;
      } catch (err) {
        throw noSpace(err, root, size);
      } finally {
        await fh.close().catch(() => {});
        if (!ok) await unlink(tmp).catch(() => {});
      }
      try {
        await mkdir(dirname(file), { recursive: true, mode: PRIVATE_DIR_MODE });
        await rename(tmp, file);
      } catch (err) {
        await unlink(tmp).catch(() => {});
        throw noSpace(err, root, size);
      }
    }
  }
  return store;
}
