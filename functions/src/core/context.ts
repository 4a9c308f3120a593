import type { BlobStore, Identity, MetadataStore } from './ports.ts';

/** Everything the core needs, injected by a host. */
export interface CoreDeps {
  blobs: BlobStore;
  meta: MetadataStore;
  identity: Identity;
  /** Lifetime of signed URLs in seconds (default 900). */
  urlTtlSeconds: number;
  now: () => Date;
}
