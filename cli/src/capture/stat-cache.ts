import { rmSync } from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { type DecodedDir, type DirEntry, decodeDir, dirEntries, encodeDir, matchEntry } from './stat-cache-codec.ts';

/** What identifies one state of a file without reading it. */
export interface StatKey {
  abs: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
}

/**
 * Remembers the sha256 of files whose stat has not changed, so a capture re-hashes only what changed. A cache may
 * forget (store errors are swallowed and reported as false) but must never return a hash for a changed file.
 */
export interface StatCache {
  /** One result per key, in order: the recorded sha256 when (path, size, mtime, ctime, ino, dev) all match. */
  lookup(keys: readonly StatKey[]): (string | undefined)[];
  /** Records hashes in one transaction. Returns false when the cache could not be written (busy, disk full). */
  store(entries: readonly (StatKey & { sha256: string })[]): boolean;
  close(): void;
}

/** Bump when the row format changes; an old cache is simply dropped. */
const SCHEMA_VERSION = 1;

/** Opens (or creates) the cache at `file` (`$STUDIOML_HOME/statcache.db`); pass ':memory:' for a private one. */
export function openStatCache(file: string): StatCache {
  try {
    return new SqliteStatCache(file);
  } catch (err) {
    if (file === ':memory:') throw err;
    // A corrupt or foreign file: it is only a cache, start over rather than fail the capture.
    for (const suffix of ['', '-wal', '-shm']) rmSync(file + suffix, { force: true });
    return new SqliteStatCache(file);
  }
}

class SqliteStatCache implements StatCache {
  private readonly db: Database.Database;
  private readonly getRow: Database.Statement<[string], Buffer | undefined>;
  private readonly putRow: Database.Statement<[string, Buffer]>;

  constructor(file: string) {
    this.db = new Database(file, { timeout: 2000 });
    try {
      if (file !== ':memory:') {
        this.db.pragma('journal_mode = WAL');
        // Losing the last transactions on power failure only costs a re-hash.
        this.db.pragma('synchronous = NORMAL');
      }
      if (this.db.pragma('user_version', { simple: true }) !== SCHEMA_VERSION) {
        this.db.exec('DROP TABLE IF EXISTS dirs');
        this.db.exec('CREATE TABLE dirs (dir TEXT PRIMARY KEY, data BLOB NOT NULL) WITHOUT ROWID');
        this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
      }
      this.getRow = this.db.prepare<[string], Buffer>('SELECT data FROM dirs WHERE dir = ?').pluck();
      this.putRow = this.db.prepare<[string, Buffer]>('INSERT OR REPLACE INTO dirs (dir, data) VALUES (?, ?)');
    } catch (err) {
      this.db.close();
      throw err;
    }
  }

  lookup(keys: readonly StatKey[]): (string | undefined)[] {
    const out: (string | undefined)[] = new Array(keys.length).fill(undefined);
    const rows = new Map<string, DecodedDir | null>();
    try {
      // One read transaction: a consistent view and one lock instead of one per directory.
      this.db.transaction(() => {
        keys.forEach((k, i) => {
          const [dir, name] = splitPath(k.abs);
          let row = rows.get(dir);
          if (row === undefined) {
            const data = this.getRow.get(dir);
            row = data === undefined ? null : decodeDir(data);
            rows.set(dir, row);
          }
          if (row !== null) out[i] = matchEntry(row, name, k);
        });
      })();
    } catch {
      // An unreadable cache means "nothing cached".
      return new Array(keys.length).fill(undefined);
    }
    return out;
  }

  store(entries: readonly (StatKey & { sha256: string })[]): boolean {
    const byDir = new Map<string, DirEntry[]>();
    for (const e of entries) {
      const [dir, name] = splitPath(e.abs);
      let list = byDir.get(dir);
      if (list === undefined) {
        list = [];
        byDir.set(dir, list);
      }
      list.push({
        name,
        size: e.size,
        mtimeMs: e.mtimeMs,
        ctimeMs: e.ctimeMs,
        ino: e.ino,
        dev: e.dev,
        sha256: e.sha256,
      });
    }
    try {
      this.db
        .transaction(() => {
          for (const [dir, list] of byDir) {
            const data = this.getRow.get(dir);
            const old = data === undefined ? null : decodeDir(data);
            // Merge: entries of files not in this batch (other captures, ignored files) stay.
            const merged = new Map<string, DirEntry>();
            if (old !== null) for (const e of dirEntries(old)) merged.set(e.name, e);
            for (const e of list) merged.set(e.name, e);
            this.putRow.run(dir, encodeDir([...merged.values()]));
          }
        })
        .immediate();
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.db.close();
  }
}

function splitPath(abs: string): [string, string] {
  const i = abs.lastIndexOf(path.sep);
  return [abs.slice(0, i), abs.slice(i + 1)];
}
