import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';

/** `$STUDIOML_HOME`, or ~/.studioml. */
export function studioHome(env: NodeJS.ProcessEnv = process.env): string {
  return env.STUDIOML_HOME || join(homedir(), '.studioml');
}

/** Paths inside the home folder, in one place. */
export function homePaths(home: string) {
  return {
    home,
    db: join(home, 'db', 'studio.sqlite'),
    store: join(home, 'store'),
    secret: join(home, 'secret.key'),
    credentials: join(home, 'credentials.json'),
    /** A deployment login (`studio-lite login <api-url>`): api_url + token, mode 0600. */
    login: join(home, 'login.json'),
    blobcache: join(home, 'blobcache'),
    statcache: join(home, 'statcache.db'),
    /** Open resumable upload sessions of large blobs, one `<sha256>.json` each (mode 0600: the URIs are bearer). */
    uploads: join(home, 'uploads'),
    experiments: join(home, 'experiments'),
    config: join(home, 'config.yaml'),
  };
}

/** Reads the HMAC key, creating it (0600) exactly once even when several processes race. */
export function loadOrCreateSecret(file: string): Buffer {
  try {
    return readFileSync(file);
  } catch {
    mkdirSync(join(file, '..'), { recursive: true, mode: 0o700 });
    try {
      writeFileSync(file, randomBytes(32), { flag: 'wx', mode: 0o600 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    return readFileSync(file);
  }
}

/** Writes a file atomically with mode 0600 (credentials). */
export function writePrivateFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}
