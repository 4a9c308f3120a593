import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$STUDIOML_HOME`, or ~/.studioml. */
export function studioHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.STUDIOML_HOME || join(homedir(), '.studioml');
}

/**
 * The client's files under the home, in one place, and the few files of the embedded backend it looks at. The
 * backend lays out its own (functions' `homePaths`); they are named here too so that finding them never loads the
 * backend, and a unit test keeps both names equal.
 */
export function cliPaths(home: string) {
  return {
    home,
    /** A deployment login (`studio-lite login <api-url>`): api_url + token, mode 0600. */
    login: join(home, 'login.json'),
    config: join(home, 'config.yaml'),
    /** The default team per backend (`team use`, the last successful --team). */
    team: join(home, 'team.json'),
    /** The local server `ui` or `serve` runs for this home, so `ui` reuses it. */
    uiServer: join(home, 'ui-server.json'),
    blobcache: join(home, 'blobcache'),
    statcache: join(home, 'statcache.db'),
    /** Open resumable upload sessions of large blobs, one `<sha256>.json` each (mode 0600: the URIs are bearer). */
    uploads: join(home, 'uploads'),
    /** Experiments captured offline for a deployment, not pushed yet: one `<key>.json` marker each (pending-push.ts). */
    pending: join(home, 'pending'),
    /** One folder per direct run: output, modeldir, tb, reuse copies, artifacts.json. */
    experiments: join(home, 'experiments'),
    /** The embedded backend's: the local user's token (read to talk to `serve` here), its database, its blobs. */
    credentials: join(home, 'credentials.json'),
    db: join(home, 'db', 'studio.sqlite'),
    store: join(home, 'store'),
  };
}
