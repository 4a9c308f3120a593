import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureLocalCredentials, LOCAL_TEAM, openLocalBackend } from '../../src/hosts/local-server/local-backend.ts';
import { testExclusiveTransitions } from './exclusive-transitions-suite.ts';

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
