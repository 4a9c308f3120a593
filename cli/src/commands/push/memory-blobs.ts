import { createHash } from 'node:crypto';
import { StudioError } from '@studio-lite/functions/contract';
import type { BlobSink } from '../../transfer/download.ts';

function mismatch(sha256: string, what: string, retryable = false): StudioError {
  return new StudioError('E_HASH_MISMATCH', `blob ${sha256.slice(0, 12)}… rejected: ${what}`, {
    details: retryable ? { sha256, retryable } : { sha256 },
  });
}

/**
 * A push's small blobs on their way from the source to the target: downloaded (pack ranges), verified against their
 * sha256 like a cache ingest, and kept in memory for the upload, instead of one cache file each (20,000 files and a
 * flush for a dataset of small files). A push plans at most PLAN_BYTES at a time, which bounds what this holds.
 */
export class MemoryBlobs implements BlobSink {
  readonly bytes = new Map<string, Buffer>();

  absent<T extends { sha256: string; size: number }>(blobs: Iterable<T>): T[] {
    return [...blobs].filter((b) => this.bytes.get(b.sha256)?.length !== b.size);
  }

  async ingest(sha256: string, size: number, body: ReadableStream<Uint8Array> | AsyncIterable<Uint8Array>) {
    const chunks: Uint8Array[] = [];
    let got = 0;
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      got += chunk.byteLength;
      if (got > size) throw mismatch(sha256, `more than the expected ${size} bytes`);
      chunks.push(chunk);
    }
    if (got !== size) throw mismatch(sha256, `${got} bytes instead of ${size}`, true);
    await this.ingestMany([{ sha256, data: Buffer.concat(chunks, got) }]);
    return sha256;
  }

  async ingestMany(items: readonly { sha256: string; data: Uint8Array }[]): Promise<void> {
    for (const it of items) {
      const actual = createHash('sha256').update(it.data).digest('hex');
      if (actual !== it.sha256) throw mismatch(it.sha256, `content hashes to ${actual}`);
    }
    for (const it of items)
      this.bytes.set(it.sha256, Buffer.from(it.data.buffer, it.data.byteOffset, it.data.byteLength));
  }
}
