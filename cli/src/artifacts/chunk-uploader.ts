import { LIMITS } from '@studio-lite/functions/contract';
import type { ApiClient } from '../api-client.ts';
import { uploadBlobs } from '../transfer/upload.ts';

export interface BlobSource {
  sha256: string;
  size: number;
  md5?: string | undefined;
}

export interface ChunkUploaderOptions {
  client: ApiClient;
  experiment: string;
  tag: string;
  /** Bytes uploaded so far and bytes planned so far (both grow as batches are planned). */
  onProgress?: (uploaded: number, planned: number) => void;
  /** Where resumable upload sessions are remembered ($STUDIOML_HOME/uploads). */
  sessionDir?: string | undefined;
}

/** Where one blob's bytes are: a file, and for small files the bytes kept from hashing. */
interface Part {
  path: string;
  content?: Buffer | undefined;
}

/**
 * Plans and uploads blobs in the background, one batch at a time, while the caller keeps hashing the next files:
 * hashing (client CPU) and storing (the host's CPU and disk) overlap instead of running back to back.
 */
export class ChunkUploader {
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private planned = new Set<string>();
  /** sha256 -> where its bytes are, for every blob that may be asked for; only this uploader reads it. */
  private readonly parts = new Map<string, Part>();
  uploadedBlobs = 0;
  uploadedBytes = 0;
  plannedBytes = 0;

  constructor(private readonly o: ChunkUploaderOptions) {}

  /**
   * Records where hashed blobs can be read: `sources` (sha256 -> file; the first file of a content wins) and the
   * bytes of small files kept from hashing. Called before push() of those blobs.
   */
  addParts(sources: Map<string, string>, contents: Map<string, Buffer>): void {
    for (const [sha, path] of sources) if (!this.parts.has(sha)) this.parts.set(sha, { path });
    for (const [sha, content] of contents) {
      const p = this.parts.get(sha);
      if (p) p.content = content;
    }
  }

  /** Queues blobs (duplicates of earlier pushes are dropped). */
  push(blobs: BlobSource[]): void {
    const fresh = blobs.filter((b) => !this.planned.has(b.sha256));
    for (const b of fresh) this.planned.add(b.sha256);
    for (let i = 0; i < fresh.length; i += LIMITS.planBatch) {
      const batch = fresh.slice(i, i + LIMITS.planBatch);
      this.chain = this.chain.then(() => (this.failure === undefined ? this.send(batch) : undefined));
    }
  }

  /** Waits for everything queued; throws the first failure. */
  async drain(): Promise<void> {
    await this.chain;
    if (this.failure !== undefined) throw this.failure;
  }

  private async send(batch: BlobSource[]): Promise<void> {
    try {
      const blobs = batch.map((b) => (b.md5 ? b : { sha256: b.sha256, size: b.size }));
      const plan = await this.o.client.planUpload(this.o.experiment, this.o.tag, { blobs });
      for (const u of plan.uploads) this.plannedBytes += u.size;
      for (const p of plan.packs) for (const m of p.members) this.plannedBytes += m.size;
      const before = this.uploadedBytes;
      const sources = new Map<string, string>();
      const contents = new Map<string, Buffer>();
      for (const b of batch) {
        const p = this.parts.get(b.sha256);
        if (p) sources.set(b.sha256, p.path);
        if (p?.content) contents.set(b.sha256, p.content);
      }
      const up = await uploadBlobs(plan, sources, {
        contents,
        ...(this.o.sessionDir === undefined ? {} : { sessionDir: this.o.sessionDir }),
        onProgress: (done) => this.o.onProgress?.(before + done, this.plannedBytes),
        localSource: this.o.client.localSource(),
        registerPack: async (pack) => {
          await this.o.client.registerPack(this.o.experiment, this.o.tag, {
            id: pack.id,
            nonce: pack.nonce,
            members: pack.members,
          });
        },
      });
      this.uploadedBlobs += up.uploadedBlobs;
      this.uploadedBytes += up.uploadedBytes;
    } catch (err) {
      this.failure = err;
    }
  }
}
