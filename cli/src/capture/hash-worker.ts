/**
 * A thread of the hash pool (hash-pool.ts): hashes whole files with sync reads into one reusable buffer, so the
 * sha256 (and md5) work of large files runs off the main thread. Bundled as cli/dist/hash-worker.js; from TS sources
 * the pool transpiles this file and starts it from a data: URL, so it must import nothing but node built-ins.
 *
 * It only measures: the checks (regular file, unchanged while read) and the errors they raise are made on the main
 * thread by hash.ts from what this thread reports, exactly as for a file hashed there.
 *
 * Protocol: workerData {openFlags, bufferSize, gate?}; each message {id, abs, md5} is answered by one HashReply.
 * `gate` is for tests only (hash-pool.test.ts): after its first read of a file the thread adds 1 to gate[0] and
 * waits until gate[1] is not 0, so a test can change the file mid-read, or see two threads reading at once.
 */
import { createHash } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, type Stats } from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';

/** The fields of an fstat that hash.ts compares and returns. */
export interface StatFields {
  size: number;
  mode: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
  regular: boolean;
}

export interface HashJob {
  id: number;
  abs: string;
  md5: boolean;
}

/** `before` is the fstat after open; a file that is not regular is not read (no `after`, no digests). */
export type HashReply =
  | { id: number; before: StatFields; after: StatFields; total: number; sha256: string; md5?: string }
  | { id: number; before: StatFields; after?: undefined }
  | {
      id: number;
      error: { message: string; name: string; code?: string; errno?: number; syscall?: string; path?: string };
    };

const port = parentPort;
if (!port) throw new Error('hash-worker must run in a worker thread');
export interface HashWorkerData {
  openFlags: number;
  bufferSize: number;
  gate?: SharedArrayBuffer;
}

const { openFlags, bufferSize, gate } = workerData as HashWorkerData;
const buf = Buffer.allocUnsafe(bufferSize);
const held = gate ? new Int32Array(gate) : null;

port.on('message', (job: HashJob) => port.postMessage(hashOne(job)));

function fields(st: Stats): StatFields {
  return {
    size: st.size,
    mode: st.mode,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
    ino: st.ino,
    dev: st.dev,
    regular: st.isFile(),
  };
}

function hashOne({ id, abs, md5: withMd5 }: HashJob): HashReply {
  try {
    const fd = openSync(abs, openFlags);
    try {
      const before = fields(fstatSync(fd));
      if (!before.regular) return { id, before };
      const hash = createHash('sha256');
      const md5 = withMd5 ? createHash('md5') : null;
      let total = 0;
      // Exactly the size seen at open, as hashFile does: growth shows in `after`.
      while (total < before.size) {
        const bytesRead = readSync(fd, buf, 0, Math.min(buf.length, before.size - total), total);
        if (bytesRead === 0) break;
        const bytes = buf.subarray(0, bytesRead);
        hash.update(bytes);
        md5?.update(bytes);
        if (held && total === 0) {
          Atomics.add(held, 0, 1);
          Atomics.wait(held, 1, 0);
        }
        total += bytesRead;
      }
      const after = fields(fstatSync(fd));
      const sha256 = hash.digest('hex');
      return md5
        ? { id, before, after, total, sha256, md5: md5.digest('base64') }
        : { id, before, after, total, sha256 };
    } finally {
      closeSync(fd);
    }
  } catch (thrown) {
    const e = thrown as NodeJS.ErrnoException;
    return {
      id,
      error: { message: e.message, name: e.name, code: e.code, errno: e.errno, syscall: e.syscall, path: e.path },
    };
  }
}
