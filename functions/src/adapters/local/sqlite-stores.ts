import type { MetadataPorts } from '../../core/ports.ts';
import { createSqliteAccountStore } from './sqlite-account-store.ts';
import { createSqliteBlobIndex } from './sqlite-blob-index.ts';
import type { SqliteDb } from './sqlite-db.ts';
import { createSqliteExperimentStore } from './sqlite-experiment-store.ts';
import { createSqliteTokenStore } from './sqlite-token-store.ts';

/** The four metadata ports on one connection to the local metadata database. */
export function createSqliteStores(sdb: SqliteDb): MetadataPorts {
  return {
    experiments: createSqliteExperimentStore(sdb),
    blobIndex: createSqliteBlobIndex(sdb),
    accounts: createSqliteAccountStore(sdb),
    tokens: createSqliteTokenStore(sdb),
  };
}
