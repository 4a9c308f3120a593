import type { AuthConfig } from '../contract/auth-config.ts';
import type { AliasStore } from './alias-store.ts';
import type { JobSettings } from './job-settings.ts';
import type { SigninCodeStore } from './ports/signin-code-store.ts';
import type { AuditLog, BlobStore, Identity, JobStore, MetadataPorts, RetentionStore } from './ports.ts';
import type { TaskQueue } from './task-queue.ts';

/**
 * Everything the core needs, injected by a host. The metadata ports (MetadataPorts: experiments, blobIndex,
 * accounts, tokens) are usually one database's adapters.
 */
export interface CoreDeps extends MetadataPorts {
  blobs: BlobStore;
  identity: Identity;
  /** Append-only record of token, membership, delete and download actions (core/audit.ts). */
  audit: AuditLog;
  /** Lifetime of signed URLs in seconds (default 900). */
  urlTtlSeconds: number;
  now: () => Date;
  /** Version aliases (`exp/tag@best`); a backend without them answers alias routes with E_UNAVAILABLE. */
  aliases?: AliasStore;
  /** Retention policies; a backend without them answers retention routes with E_UNAVAILABLE. */
  retention?: RetentionStore;
  /** Queued jobs (issue 5); a backend without them answers job routes with E_UNAVAILABLE. */
  jobs?: JobStore;
  /** Delayed background work (lease deadlines, --lifetime, --max-duration, blob verification). */
  tasks?: TaskQueue;
  jobSettings?: Partial<JobSettings>;
  /** Lease of a direct `run` in seconds (default DEFAULT_RUN_LEASE_SECONDS); the CLI renews it every quarter. */
  runLeaseSeconds?: number;
  /**
   * Shortest grace a blob GC run may use (seconds; default GC_MIN_GRACE_SECONDS). It must exceed the longest commit
   * request the host allows, because a commit that checked its blobs before a run condemned them is only safe if it
   * finishes before a later run deletes them. Tests lower it.
   */
  gcMinGraceSeconds?: number;
  /** Largest blob a plan or commit accepts (bytes; default DEFAULT_MAX_BLOB_BYTES); larger is E_TOO_LARGE. */
  maxBlobBytes?: number;
  /** How people sign in (GET /v1/auth/config); absent = personal access tokens only. */
  authConfig?: AuthConfig;
  /** Key of short-lived bearer links (a version's tar.gz, core/archive.ts); absent: such links are refused. */
  linkKey?: () => Promise<Uint8Array>;
  /** One-time web sign-in codes (`studio-lite ui`, local backend); absent: the code routes answer E_UNAVAILABLE. */
  signinCodes?: SigninCodeStore;
}
