import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSqliteDb, type SqliteDb } from '../../src/adapters/local/sqlite-db.ts';
import { createSqliteStores } from '../../src/adapters/local/sqlite-stores.ts';
import { ensureLocalCredentials, LOCAL_TEAM, openLocalBackend } from '../../src/hosts/local-server/local-backend.ts';
import { testExclusiveTransitions } from './exclusive-transitions-suite.ts';
import { testStoreRaces } from './store-races-suite.ts';

testExclusiveTransitions({
  name: 'local sqlite',
  async make() {
    const home = await mkdtemp(join(tmpdir(), 'sl-races-'));
    const backend = openLocalBackend(home, { publicUrl: () => 'http://127.0.0.1:9' });
    const creds = await ensureLocalCredentials(home, backend.deps);
    const editor = await backend.deps.identity.authenticate(creds.token);
    return {
      deps: backend.deps,
      editor,
      team: LOCAL_TEAM,
      async cleanup() {
        await backend.close();
        await rm(home, { recursive: true, force: true });
      },
    };
  },
});

// Each racer is its own connection to one file, as N studio-lite processes sharing $STUDIOML_HOME.
testStoreRaces({
  name: 'local sqlite',
  async make() {
    const dir = await mkdtemp(join(tmpdir(), 'sl-store-races-'));
    const handles: SqliteDb[] = [];
    const open = () => {
      const h = openSqliteDb(join(dir, 'meta.db'));
      handles.push(h);
      return createSqliteStores(h);
    };
    return {
      stores: open(),
      racers: async (n) => Array.from({ length: n }, open),
      async cleanup() {
        for (const h of handles) h.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});
