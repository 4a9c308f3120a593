import type { MetadataPorts } from '../../src/core/ports.ts';

/**
 * What the metadata port suites (experiment-store, blob-index, account-store, token-store) run against: the four
 * ports of one adapter family on one database, since a test sets up with the others (a token needs its user).
 */
export interface MetadataHarness {
  stores: MetadataPorts;
  cleanup(): Promise<void>;
  /** Optional second handle on the same data (another connection or client); concurrency tests then use both. */
  another?(): Promise<MetadataPorts>;
}

export interface MetadataSuiteOptions {
  name: string;
  /** Fresh ports per test (they may share a backend: every test uses its own team, user and token ids). */
  make: () => Promise<MetadataHarness>;
}
