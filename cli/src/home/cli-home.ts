import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$STUDIOML_HOME`, or ~/.studioml. */
export function studioHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.STUDIOML_HOME || join(homedir(), '.studioml');
}

/**
 * The client's files under the home, in one place. The embedded backend keeps its own (db/, store/, secret.key,
 * credentials.json) in `homePaths` of the backend; the two sets never share a name.
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
    /** One folder per direct run: output, modeldir, tb, reuse copies, artifacts.json. */
    experiments: join(home, 'experiments'),
  };
}
