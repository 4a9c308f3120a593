import { constants } from 'node:fs';
import { lstat, open } from 'node:fs/promises';
import { StudioError } from '@studio-lite/functions/core/errors.ts';

export interface BodyPart {
  sha256: string;
  size: number;
  abs: string;
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
  for (const p of parts) {
    if (p.size === 0) continue;
    let n = 0;
    try {
      const fh = await open(p.abs, READ_FLAGS);
      // The stream owns the handle from here (autoClose), including when the consumer stops early.
      const rs = fh.createReadStream({ start: 0, end: p.size - 1, highWaterMark: 1 << 20 });
      for await (const chunk of rs as AsyncIterable<Buffer>) {
        n += chunk.length;
        onBytes(chunk.length);
        yield chunk;
      }
    } catch (cause) {
      throw changedSince([p], 'became unreadable', cause);
    }
    if (n !== p.size) throw changedSince([p], 'shrank');
  }
}
