import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createSqliteAliasStore } from '../../src/adapters/local/sqlite-alias-store.ts';
import { createSqliteAuditLog } from '../../src/adapters/local/sqlite-audit-log.ts';
import { createSqliteJobStore } from '../../src/adapters/local/sqlite-job-store.ts';
import { createSqliteMetadataStore } from '../../src/adapters/local/sqlite-metadata-store.ts';
import type { SignedRequest } from '../../src/contract/transfer.ts';
import { startLocalServer } from '../../src/hosts/local-server/server.ts';
import { testAliasStore } from './alias-store-suite.ts';
import { testAuditLog } from './audit-log-suite.ts';
import { testBlobStore } from './blob-store-suite.ts';
import { testJobStore } from './job-store-suite.ts';
import { testMetadataStore } from './metadata-store-suite.ts';

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

testMetadataStore({
  name: 'local sqlite',
  async make() {
    const dir = await mkdtemp(join(tmpdir(), 'sl-meta-'));
    const path = join(dir, 'meta.db');
    const handles = [createSqliteMetadataStore({ path })];
    return {
      store: handles[0] as (typeof handles)[0],
      async another() {
        const h = createSqliteMetadataStore({ path });
        handles.push(h);
        return h;
      },
      async cleanup() {
        for (const h of handles) h.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});

// Two handles on one file = two SQLite connections, as two studio-lite processes sharing $STUDIOML_HOME.
testJobStore({
  name: 'local sqlite',
  async make() {
    const dir = await mkdtemp(join(tmpdir(), 'sl-jobs-'));
    const path = join(dir, 'meta.db');
    const handles = [createSqliteJobStore({ path })];
    return {
      store: handles[0] as (typeof handles)[0],
      async another() {
        const h = createSqliteJobStore({ path });
        handles.push(h);
        return h;
      },
      async cleanup() {
        for (const h of handles) h.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});

testAuditLog({
  name: 'local sqlite',
  async make() {
    const dir = await mkdtemp(join(tmpdir(), 'sl-audit-'));
    const log = createSqliteAuditLog({ path: join(dir, 'meta.db') });
    return {
      log,
      async cleanup() {
        log.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});

// Two handles on one file = two SQLite connections, as two studio-lite processes sharing $STUDIOML_HOME.
testAliasStore({
  name: 'local sqlite',
  async make() {
    const dir = await mkdtemp(join(tmpdir(), 'sl-alias-'));
    const path = join(dir, 'meta.db');
    const handles = [createSqliteAliasStore({ path })];
    return {
      store: handles[0] as (typeof handles)[0],
      async another() {
        const h = createSqliteAliasStore({ path });
        handles.push(h);
        return h;
      },
      async cleanup() {
        for (const h of handles) h.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});
