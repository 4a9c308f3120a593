import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Everything the embedded backend writes under $STUDIOML_HOME is private to its owner whatever the umask: folders
 * 0700, files 0600 (blobs 0400). Modes are always given explicitly; a umask can only remove bits, never add them.
 * (The CLI applies the same rule to its own files and tightens a loose home: cli/src/home/private-files.ts.)
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;
export const PRIVATE_BLOB_MODE = 0o400;

/** mkdir -p with 0700 for every folder it creates. */
export function mkdirPrivate(dir: string): void {
  mkdirSync(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/**
 * Opens (creating if needed) a SQLite file created 0600 in a 0700 folder. SQLite gives its -wal and -shm files
 * the mode of the database file, so they are private too.
 */
export function openPrivateDatabase(path: string, options?: Database.Options): Database.Database {
  if (path !== ':memory:') {
    mkdirPrivate(dirname(path));
    closeSync(openSync(path, 'a', PRIVATE_FILE_MODE));
  }
  return new Database(path, options);
}
