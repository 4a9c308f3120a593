import { randomBytes } from 'node:crypto';
import { chmodSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The embedded backend's files inside the home folder it is given ($STUDIOML_HOME), in one place. The CLI's own
 * files there (login, caches, run folders, config) are laid out by the CLI (cli/src/home/cli-home.ts).
 */
export function homePaths(home: string) {
  return {
    home,
    db: join(home, 'db', 'studio.sqlite'),
    store: join(home, 'store'),
    secret: join(home, 'secret.key'),
    /** The local user's first token, written on first use; the CLI reads it to talk to `serve` on this machine. */
    credentials: join(home, 'credentials.json'),
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
