import { closeSync, constants, openSync, readSync } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { StudioError } from '@studio-lite/functions/contract';

export interface BodyPart {
  sha256: string;
  size: number;
  abs: string;
  /** The exact bytes that were hashed, when the snapshot kept them (small files). */
  data?: Buffer | undefined;
}

/** A blob's source no longer matches what was hashed: the caller must snapshot again. */
export function changedSince(parts: readonly BodyPart[], why: string, cause?: unknown): StudioError {
  return new StudioError(
    'E_HASH_MISMATCH',
    `${parts.map((p) => p.abs).join(', ')} ${why} since it was hashed; capture again`,
    {
      details: { sha256s: parts.map((p) => p.sha256), paths: parts.map((p) => p.abs) },
      ...(cause === undefined ? {} : { cause }),
    },
  );
}

/** Before sending: each source is still a regular file of the hashed size (a cheap guard, not a proof). */
export async function assertUnchangedSize(parts: readonly BodyPart[]): Promise<void> {
  const changed: BodyPart[] = [];
  await Promise.all(
    parts.map(async (p) => {
      if (p.data) return;
      const st = await lstat(p.abs).catch(() => null);
      if (st === null || !st.isFile() || st.size !== p.size) changed.push(p);
    }),
  );
  if (changed.length > 0) throw changedSince(changed, 'changed');
}

const READ_FLAGS = constants.O_RDONLY | (constants.O_NOFOLLOW ?? 0);

/**
 * Streams exactly `size` bytes of each part, in order (one blob, or a pack's members concatenated). A part that
 * got shorter or vanished throws E_HASH_MISMATCH; one that grew is cut at `size` and left to the server's hash
 * check. `onBytes` sees every chunk as the HTTP client pulls it.
 */
export async function* filesBody(parts: readonly BodyPart[], onBytes: (n: number) => void): AsyncGenerator<Uint8Array> {
  // Small files (a pack's members) are read with sync calls into one batch buffer: a thread-pool round trip per
  // open/read/close made 1,000 small files take ~1 s of pure latency.
  let batch: Buffer[] = [];
  let batchBytes = 0;
  const flush = () => {
    const out =
      batch.length === 1 ? (batch[0] as Buffer) : (adjacentView(batch, batchBytes) ?? Buffer.concat(batch, batchBytes));
    batch = [];
    batchBytes = 0;
    onBytes(out.length);
    return out;
  };
  for (const p of parts) {
    if (p.size === 0) continue;
    if (p.size <= SMALL_FILE) {
      batch.push(p.data ?? readSmall(p));
      batchBytes += p.size;
      if (batchBytes >= BATCH_BYTES) yield flush();
      continue;
    }
    if (batchBytes > 0) yield flush();
    yield* rangeBody(p, 0, p.size - 1, onBytes);
  }
  if (batchBytes > 0) yield flush();
}

/**
 * Bytes `start..end` (inclusive) of one part, streamed from the file (or from `data` when the snapshot kept the
 * bytes): one chunk of a resumable upload. A source that got shorter or vanished throws E_HASH_MISMATCH.
 */
export async function* rangeBody(
  p: BodyPart,
  start: number,
  end: number,
  onBytes: (n: number) => void,
): AsyncGenerator<Uint8Array> {
  if (end < start) return;
  if (p.data) {
    if (p.data.length < end + 1) throw changedSince([p], 'shrank');
    const out = p.data.subarray(start, end + 1);
    onBytes(out.length);
    yield out;
    return;
  }
  let n = 0;
  try {
    const fh = await open(p.abs, READ_FLAGS);
    // The stream owns the handle from here (autoClose), including when the consumer stops early.
    const rs = fh.createReadStream({ start, end, highWaterMark: 1 << 20 });
    for await (const chunk of rs as AsyncIterable<Buffer>) {
      n += chunk.length;
      onBytes(chunk.length);
      yield chunk;
    }
  } catch (cause) {
    throw changedSince([p], 'became unreadable', cause);
  }
  if (n !== end - start + 1) throw changedSince([p], 'shrank');
}

/**
 * One view over buffers that lie back to back in one memory block (the snapshot keeps small files' bytes in shared
 * slabs, in hashing order, which is also the plan's order), so a batch goes out without being copied; null otherwise.
 */
function adjacentView(bufs: Buffer[], total: number): Buffer | null {
  const first = bufs[0] as Buffer;
  let end = first.byteOffset;
  for (const b of bufs) {
    if (b.buffer !== first.buffer || b.byteOffset !== end) return null;
    end += b.length;
  }
  return Buffer.from(first.buffer, first.byteOffset, total);
}

const SMALL_FILE = 256 * 1024;
const BATCH_BYTES = 1 << 20;

/** Exactly `size` bytes of a small file, read synchronously; shrinking or vanishing throws E_HASH_MISMATCH. */
function readSmall(p: BodyPart): Buffer {
  const buf = Buffer.allocUnsafe(p.size);
  let fd: number;
  try {
    fd = openSync(p.abs, READ_FLAGS);
  } catch (cause) {
    throw changedSince([p], 'became unreadable', cause);
  }
  try {
    let n = 0;
    while (n < p.size) {
      const r = readSync(fd, buf, n, p.size - n, n);
      if (r === 0) throw changedSince([p], 'shrank');
      n += r;
    }
    return buf;
  } finally {
    closeSync(fd);
  }
}
