import type { MetadataPorts } from '../../core/ports.ts';
import { createFirestoreAccountStore } from './firestore-account-store.ts';
import { createFirestoreBlobIndex } from './firestore-blob-index.ts';
import { createFirestoreExperimentStore } from './firestore-experiment-store.ts';
import { type FirestoreOptions, firestoreClient } from './firestore-kit.ts';
import { createFirestoreTokenStore } from './firestore-token-store.ts';

/**
 * The four metadata ports on one Firestore client. Import lazily: it loads the Firestore SDK. `close` terminates the
 * client only when this call made it (no `firestore` given).
 */
export function createFirestoreStores(opts: FirestoreOptions): MetadataPorts & { close(): Promise<void> } {
  const { db, close } = firestoreClient(opts);
  return {
    experiments: createFirestoreExperimentStore(db),
    blobIndex: createFirestoreBlobIndex(db),
    accounts: createFirestoreAccountStore(db),
    tokens: createFirestoreTokenStore(db),
    close,
  };
}
