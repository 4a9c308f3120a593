// The CLI names the embedded backend's files itself (so that finding them never loads the backend); they must stay
// the files the backend really uses, and no client file may take a name the backend uses.
import { describe, expect, it } from 'vitest';
import { homePaths } from '../../../functions/src/adapters/local/local-home.ts';
import { cliPaths } from '../../src/home/cli-home.ts';

describe('home layout', () => {
  const home = '/h';
  const cli = cliPaths(home);
  const backend = homePaths(home);

  it("the CLI's names for the backend's files are the backend's", () => {
    expect({ credentials: cli.credentials, db: cli.db, store: cli.store }).toEqual({
      credentials: backend.credentials,
      db: backend.db,
      store: backend.store,
    });
  });

  it('client files never collide with backend files', () => {
    const clientOnly = Object.entries(cli).filter(([k]) => !['home', 'credentials', 'db', 'store'].includes(k));
    expect(clientOnly.map(([, p]) => p).filter((p) => Object.values(backend).includes(p))).toEqual([]);
  });
});
