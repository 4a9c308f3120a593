import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteAliasStore } from '../../src/adapters/local/sqlite-alias-store.ts';
import { createSqliteAuditLog } from '../../src/adapters/local/sqlite-audit-log.ts';
import { openSqliteDb, type SqliteDb } from '../../src/adapters/local/sqlite-db.ts';
import { createSqliteJobStore } from '../../src/adapters/local/sqlite-job-store.ts';
import { createSqliteRetentionStore } from '../../src/adapters/local/sqlite-retention-store.ts';
import { createSqliteStores } from '../../src/adapters/local/sqlite-stores.ts';
import type { SignedRequest } from '../../src/contract/transfer.ts';
import { startLocalServer } from '../../src/hosts/local-server/server.ts';
import { testAccountStore } from './account-store-suite.ts';
import { testAliasStore } from './alias-store-suite.ts';
import { testAuditLog } from './audit-log-suite.ts';
import { testBlobIndex } from './blob-index-suite.ts';
import { testBlobStore } from './blob-store-suite.ts';
import { testExperimentStore } from './experiment-store-suite.ts';
import { testJobStore } from './job-store-suite.ts';
import type { MetadataSuiteOptions } from './metadata-harness.ts';
import { testRetentionStore } from './retention-store-suite.ts';
import { testTokenStore } from './token-store-suite.ts';

const send = (req: SignedRequest, body?: Uint8Array) =>
  fetch(req.url, { method: req.method, headers: req.headers, body: body && Buffer.from(body) });

// The disk store's signed URLs are served by the local host, so the suite talks to a real one on 127.0.0.1.
testBlobStore({
  name: 'local disk + local host',
  async make() {
    const home = await mkdtemp(join(tmpdir(), 'sl-blobs-'));
    const server = await startLocalServer({ home });
    return {
      store: server.backend.blobs,
      upload: send,
      download: (req) => send(req),
      async cleanup() {
        await server.close();
        await rm(home, { recursive: true, force: true });
      },
    };
  },
});

/** A temp metadata file; `open` adds a connection (as another studio-lite process would), all closed at cleanup. */
async function tempDb(prefix: string) {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  const handles: SqliteDb[] = [];
  return {
    open() {
      const h = openSqliteDb(join(dir, 'meta.db'));
      handles.push(h);
      return h;
    },
    async cleanup() {
      for (const h of handles) h.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

const sqliteMetadata: MetadataSuiteOptions = {
  name: 'local sqlite',
  async make() {
    const file = await tempDb('sl-meta-');
    return {
      stores: createSqliteStores(file.open()),
      another: async () => createSqliteStores(file.open()),
      cleanup: file.cleanup,
    };
  },
};
testExperimentStore(sqliteMetadata);
testBlobIndex(sqliteMetadata);
testAccountStore(sqliteMetadata);
testTokenStore(sqliteMetadata);

// Two handles on one file = two SQLite connections, as two studio-lite processes sharing $STUDIOML_HOME.
testJobStore({
  name: 'local sqlite',
  async make() {
    const file = await tempDb('sl-jobs-');
    return {
      store: createSqliteJobStore(file.open()),
      another: async () => createSqliteJobStore(file.open()),
      cleanup: file.cleanup,
    };
  },
});

testAuditLog({
  name: 'local sqlite',
  async make() {
    const file = await tempDb('sl-audit-');
    return { log: createSqliteAuditLog(file.open()), cleanup: file.cleanup };
  },
});

// Two handles on one file = two SQLite connections, as two studio-lite processes sharing $STUDIOML_HOME.
testAliasStore({
  name: 'local sqlite',
  async make() {
    const file = await tempDb('sl-alias-');
    return {
      store: createSqliteAliasStore(file.open()),
      another: async () => createSqliteAliasStore(file.open()),
      cleanup: file.cleanup,
    };
  },
});

// Two handles on one file = two SQLite connections, as two studio-lite processes sharing $STUDIOML_HOME.
testRetentionStore({
  name: 'local sqlite',
  async make() {
    const file = await tempDb('sl-retention-');
    return {
      store: createSqliteRetentionStore(file.open()),
      another: async () => createSqliteRetentionStore(file.open()),
      cleanup: file.cleanup,
    };
  },
});
