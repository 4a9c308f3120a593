import type { JobSettings } from './jobs.ts';
import type { BlobStore, Identity, JobStore, MetadataStore } from './ports.ts';
import type { TaskQueue } from './task-queue.ts';

/** Everything the core needs, injected by a host. */
export interface CoreDeps {
  blobs: BlobStore;
  meta: MetadataStore;
  identity: Identity;
  /** Lifetime of signed URLs in seconds (default 900). */
  urlTtlSeconds: number;
  now: () => Date;
  /** Queued jobs (issue 5); a backend without them answers job routes with E_UNAVAILABLE. */
  jobs?: JobStore;
  /** Delayed background work (lease deadlines, --lifetime, --max-duration, blob verification). */
  tasks?: TaskQueue;
  jobSettings?: Partial<JobSettings>;
}
