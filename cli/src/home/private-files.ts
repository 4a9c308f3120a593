import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, mkdirSync, openSync, renameSync, writeFileSync } from 'node:fs';
import { chmod, lstat, readdir } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import Database from 'better-sqlite3';

/**
 * Everything under $STUDIOML_HOME is private to its owner whatever the umask: folders 0700, files 0600. Modes are
 * always given explicitly; a umask can only remove bits, never add them. (The embedded backend applies the same
 * rule to the files it keeps there.)
 */
export const PRIVATE_DIR_MODE = 0o700;
export const PRIVATE_FILE_MODE = 0o600;

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

/** Writes a file atomically with mode 0600 (logins, upload sessions, the home's small state files). */
export function writePrivateFile(file: string, text: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;
  writeFileSync(tmp, text, { mode: PRIVATE_FILE_MODE });
  chmodSync(tmp, PRIVATE_FILE_MODE);
  renameSync(tmp, file);
}

/** Whether a mode gives group or others any access. */
const loose = (mode: number) => (mode & 0o077) !== 0;

/** Whether `dir` or one of its entries (to `depth` levels) lets group or others in. */
async function anyLoose(dir: string, depth: number): Promise<boolean> {
  const st = await lstat(dir).catch(() => null);
  if (!st || st.isSymbolicLink()) return false;
  if (loose(st.mode)) return true;
  if (!st.isDirectory() || depth === 0) return false;
  for (const name of await readdir(dir).catch(() => [] as string[])) {
    if (await anyLoose(join(dir, name), depth - 1)) return true;
  }
  return false;
}

/**
 * Tightens a home made by an older version, under a permissive umask, or by a module that left loose modes: when
 * the home or an entry up to two levels below it lets group/others in, every folder and file below loses its
 * group/other bits. Returns how many entries changed (0: nothing was loose; the check costs a few readdirs).
 * Symlinks are never followed or changed.
 */
export async function tightenHome(home: string): Promise<number> {
  const top = await lstat(home).catch(() => null);
  if (!top?.isDirectory()) return 0;
  return (await anyLoose(home, 2)) ? tightenTree(home) : 0;
}

/** Removes group/other bits from `root` and everything below it (symlinks untouched). Returns how many changed. */
export async function tightenTree(root: string): Promise<number> {
  let changed = 0;
  const fix = async (path: string): Promise<void> => {
    const s = await lstat(path).catch(() => null);
    if (!s || s.isSymbolicLink()) return;
    if (loose(s.mode)) {
      await chmod(path, s.mode & 0o700).catch(() => {});
      changed += 1;
    }
    if (s.isDirectory()) {
      for (const name of await readdir(path).catch(() => [] as string[])) await fix(join(path, name));
    }
  };
  await fix(root);
  return changed;
}
