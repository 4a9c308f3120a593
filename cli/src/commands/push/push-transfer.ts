import { LIMITS, type Manifest } from '@studio-lite/functions/contract';
import type { ApiClient } from '../../api-client.ts';
import type { BlobCache } from '../../cache/blob-cache.ts';
import { tamperedWarning, verifyEntries } from '../../cache/verify-entries.ts';
import type { Logger } from '../../logger.ts';
import { downloadToCache } from '../../transfer/download.ts';
import { uploadBlobs } from '../../transfer/upload.ts';
import { MemoryBlobs } from './memory-blobs.ts';

export interface TransferFigures {
  /** Blobs and bytes sent to the target (only those its team lacked). */
  uploadedBlobs: number;
  uploadedBytes: number;
  /** Blobs the target team had already. */
  presentBlobs: number;
  /** Bytes fetched from the source (those the blob cache lacked). */
  downloadedBytes: number;
}

export interface TransferContext {
  source: ApiClient;
  target: ApiClient;
  cache: BlobCache;
  log: Logger;
  sessionDir: string;
  /** Bytes moved so far in this command (downloaded + uploaded), for progress. */
  onBytes: (delta: number) => void;
}

/**
 * Plans of at most this many bytes: the signed URLs of a plan must still be valid after its blobs were fetched, and
 * its small blobs are held in memory between download and upload.
 */
const PLAN_BYTES = 256 << 20;

/**
 * Sends the blobs of one version the target team lacks: the target plans (its answer names exactly the missing
 * ones, with signed uploads and packs), and those are uploaded from the verified blob cache where it has them
 * (checked first, so an edited cache file is never sent); the others are fetched from the source, large ones into
 * the cache, small ones (packed on both sides) into memory, verified either way. The target verifies them as for a
 * capture.
 */
export async function sendVersionBlobs(
  ctx: TransferContext,
  from: { experiment: string; tag: string; version: number },
  to: { experiment: string; tag: string },
  manifest: Manifest,
): Promise<TransferFigures> {
  const out: TransferFigures = { uploadedBlobs: 0, uploadedBytes: 0, presentBlobs: 0, downloadedBytes: 0 };
  const sizes = new Map<string, number>();
  for (const f of manifest.files) sizes.set(f.sha256, f.size);
  const batches: { sha256: string; size: number }[][] = [[]];
  let bytes = 0;
  for (const [sha256, size] of sizes) {
    let cur = batches[batches.length - 1] as { sha256: string; size: number }[];
    if (cur.length >= LIMITS.planBatch || (cur.length > 0 && bytes + size > PLAN_BYTES)) {
      cur = [];
      batches.push(cur);
      bytes = 0;
    }
    cur.push({ sha256, size });
    bytes += size;
  }
  for (const batch of batches) {
    if (batch.length === 0) continue;
    const plan = await ctx.target.planUpload(to.experiment, to.tag, { blobs: batch });
    const wanted = new Map<string, number>();
    for (const u of plan.uploads) wanted.set(u.sha256, u.size);
    for (const p of plan.packs) for (const m of p.members) wanted.set(m.sha256, m.size);
    out.presentBlobs += batch.length - wanted.size;
    if (wanted.size === 0) continue;
    const checked = await verifyEntries(ctx.cache, wanted);
    if (checked.quarantined.length) ctx.log.warn(tamperedWarning(ctx.cache, checked.quarantined));
    const memory = new MemoryBlobs();
    const bring = async (blobs: [string, number][], sink: MemoryBlobs | BlobCache) => {
      if (blobs.length === 0) return;
      const files = blobs.map(([sha256, size], i) => ({ path: `b${i}`, sha256, size, mode: 0o644, mtime: 0 }));
      let downloaded = 0;
      const dl = await downloadToCache(ctx.source, from, { files, links: [] } as unknown as Manifest, sink, {
        onProgress: (n) => {
          ctx.onBytes(n - downloaded);
          downloaded = n;
        },
      });
      out.downloadedBytes += dl.downloadedBytes;
    };
    const isSmall = (size: number) => size <= LIMITS.packMaxBlobSize;
    await bring(
      [...wanted].filter(([sha, size]) => isSmall(size) && !checked.usable.has(sha)),
      memory,
    );
    await bring(
      [...wanted].filter(([, size]) => !isSmall(size)),
      ctx.cache,
    );
    const sources = new Map(
      [...wanted.keys()].map((sha) => [sha, memory.bytes.has(sha) ? `(memory) ${sha}` : ctx.cache.path(sha)]),
    );
    let sent = 0;
    const up = await uploadBlobs(plan, sources, {
      contents: memory.bytes,
      sessionDir: ctx.sessionDir,
      localSource: ctx.target.localSource(),
      onProgress: (n) => {
        ctx.onBytes(n - sent);
        sent = n;
      },
      registerPack: async (pack) => {
        await ctx.target.registerPack(to.experiment, to.tag, { id: pack.id, nonce: pack.nonce, members: pack.members });
      },
    });
    out.uploadedBlobs += up.uploadedBlobs;
    out.uploadedBytes += up.uploadedBytes;
  }
  return out;
}
