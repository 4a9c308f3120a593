import type { AccountStore } from './account-store.ts';
import type { BlobIndex } from './blob-index.ts';
import type { ExperimentStore } from './experiment-store.ts';
import type { TokenStore } from './token-store.ts';

/** The metadata ports one backend opens over one database (SQLite file, Firestore database); part of CoreDeps. */
export interface MetadataPorts {
  experiments: ExperimentStore;
  blobIndex: BlobIndex;
  accounts: AccountStore;
  tokens: TokenStore;
}

/** Just the metadata ports of `from` (a CoreDeps, a backend's store set): for harnesses that hand them on. */
export function metadataPorts(from: MetadataPorts): MetadataPorts {
  const { experiments, blobIndex, accounts, tokens } = from;
  return { experiments, blobIndex, accounts, tokens };
}
