import { LIMITS } from '@studio-lite/functions/contract';
import type { ApiClient } from '../api-client.ts';
import { uploadBlobs } from '../transfer/upload.ts';

export interface BlobSource {
  sha256: string;
  size: number;
  md5?: string | undefined;
}

/**
 * Plans and uploads blobs in the background, one batch at a time, while the caller keeps hashing the next files:
 * hashing (client CPU) and storing (the host's CPU and disk) overlap instead of running back to back.
 */
export class ChunkUploader {
  private chain: Promise<void> = Promise.resolve();
  private failure: unknown;
  private planned = new Set<string>();
  uploadedBlobs = 0;
  uploadedBytes = 0;
  plannedBytes = 0;

  constructor(
    private readonly client: ApiClient,
    private readonly experiment: string,
    private readonly tag: string,
    private readonly sources: Map<string, string>,
    private readonly contents: Map<string, Buffer>,
    private readonly onProgress: (uploaded: number, planned: number) => void,
    /** Where resumable upload sessions are remembered ($STUDIOML_HOME/uploads). */
    private readonly sessionDir?: string,
  ) {}

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
      const plan = await this.client.planUpload(this.experiment, this.tag, { blobs });
      for (const u of plan.uploads) this.plannedBytes += u.size;
      for (const p of plan.packs) for (const m of p.members) this.plannedBytes += m.size;
      const before = this.uploadedBytes;
      const up = await uploadBlobs(plan, this.sources, {
        contents: this.contents,
        ...(this.sessionDir === undefined ? {} : { sessionDir: this.sessionDir }),
        onProgress: (done) => this.onProgress(before + done, this.plannedBytes),
      });
      this.uploadedBlobs += up.uploadedBlobs;
      this.uploadedBytes += up.uploadedBytes;
    } catch (err) {
      this.failure = err;
    }
  }
}
