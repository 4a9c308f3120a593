import { readdirSync, rmSync, statSync } from 'node:fs';
import * as path from 'node:path';
import type Database from 'better-sqlite3';
import { openPrivateDatabase } from '../home/private-files.ts';
import {
  COUNT_BYTES,
  type DecodedDir,
  type DirEntry,
  decodeDir,
  dirEntries,
  encodeDir,
  entryCount,
  matchEntry,
} from './stat-cache-codec.ts';

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
  /**
   * Forgets what can never match again: rows of directories that are gone (or no longer directories) and entries
   * of names no longer in their directory (one readdir per row). Never throws: an unreadable or busy cache prunes
   * nothing (or only the rows it could write).
   */
  prune(): StatCachePruneResult;
  /** Rows, entries and the size on disk (database + WAL); zeros when unreadable. */
  info(): StatCacheInfo;
  close(): void;
}

export interface StatCachePruneResult {
  /** Directory rows examined. */
  dirs: number;
  /** Rows deleted: their directory is gone, or none of their entries is left. */
  removedDirs: number;
  /** Entries removed, those of deleted rows included. */
  removedEntries: number;
}

export interface StatCacheInfo {
  dirs: number;
  entries: number;
  bytes: number;
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

  constructor(private readonly file: string) {
    this.db = openPrivateDatabase(file, { timeout: 2000 });
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

  prune(): StatCachePruneResult {
    const result: StatCachePruneResult = { dirs: 0, removedDirs: 0, removedEntries: 0 };
    const page = this.db.prepare<[string], { dir: string; data: Buffer }>(
      `SELECT dir, data FROM dirs WHERE dir > ? ORDER BY dir LIMIT ${PRUNE_BATCH}`,
    );
    const delRow = this.db.prepare<[string]>('DELETE FROM dirs WHERE dir = ?');
    let after = '';
    for (;;) {
      let rows: { dir: string; data: Buffer }[];
      try {
        rows = page.all(after);
      } catch {
        // Unreadable (busy past the timeout, corrupt): it is only a cache, leave it as it is.
        break;
      }
      if (rows.length === 0) break;
      after = (rows[rows.length - 1] as { dir: string }).dir;
      result.dirs += rows.length;
      // Plan outside any transaction (the readdirs are the slow part), then write with a check that each row is
      // still the one read: a capture that stored into it meanwhile wins and the row is pruned next time.
      const changes: { dir: string; old: Buffer; data: Buffer | null; removed: number }[] = [];
      for (const { dir, data } of rows) {
        const decoded = decodeDir(data);
        // A row that does not parse can never match: drop it without looking at the directory.
        const names = decoded === null ? 'gone' : listNames(dir === '' ? path.sep : dir);
        const entries = decoded === null ? [] : dirEntries(decoded);
        if (names === 'gone') {
          changes.push({ dir, old: data, data: null, removed: entries.length });
          continue;
        }
        if (names === 'unknown') continue;
        const kept = entries.filter((e) => names.has(e.name));
        if (kept.length === entries.length) continue;
        changes.push({
          dir,
          old: data,
          data: kept.length === 0 ? null : encodeDir(kept),
          removed: entries.length - kept.length,
        });
      }
      if (changes.length === 0) continue;
      try {
        this.db
          .transaction(() => {
            const done = { removedDirs: 0, removedEntries: 0 };
            for (const c of changes) {
              const now = this.getRow.get(c.dir);
              if (now === undefined || !now.equals(c.old)) continue;
              if (c.data === null) {
                delRow.run(c.dir);
                done.removedDirs++;
              } else this.putRow.run(c.dir, c.data);
              done.removedEntries += c.removed;
            }
            result.removedDirs += done.removedDirs;
            result.removedEntries += done.removedEntries;
          })
          .immediate();
      } catch {
        // Busy past the timeout or read-only: this batch stays as it is.
      }
    }
    if (result.removedEntries > 0 || result.removedDirs > 0) this.compact();
    return result;
  }

  info(): StatCacheInfo {
    let dirs = 0;
    let entries = 0;
    try {
      this.db.transaction(() => {
        // Only each row's head is read: it holds the entry count.
        const heads = this.db.prepare<[], Buffer>(`SELECT substr(data, 1, ${COUNT_BYTES}) FROM dirs`).pluck();
        for (const head of heads.iterate()) {
          dirs++;
          entries += entryCount(head);
        }
      })();
    } catch {
      return { dirs: 0, entries: 0, bytes: this.fileBytes() };
    }
    return { dirs, entries, bytes: this.fileBytes() };
  }

  close(): void {
    this.db.close();
  }

  /** Gives the freed pages back to the file system; skipped when other processes hold the database. */
  private compact(): void {
    if (this.file === ':memory:') return;
    try {
      this.db.exec('VACUUM');
      this.db.pragma('wal_checkpoint(TRUNCATE)');
    } catch {
      // Busy: the pages stay free inside the file and are reused by later stores.
    }
  }

  private fileBytes(): number {
    if (this.file === ':memory:') return 0;
    let bytes = 0;
    for (const suffix of ['', '-wal']) {
      try {
        bytes += statSync(this.file + suffix).size;
      } catch {
        // absent
      }
    }
    return bytes;
  }
}

/** Rows per read batch of `prune`. */
const PRUNE_BATCH = 500;

/**
 * The names in `dir` that can still be files (directories left out), 'gone' when `dir` is absent or not a
 * directory, 'unknown' when it cannot be read (e.g. permissions): then nothing of it is pruned.
 */
function listNames(dir: string): Set<string> | 'gone' | 'unknown' {
  try {
    const names = new Set<string>();
    for (const d of readdirSync(dir, { withFileTypes: true })) if (!d.isDirectory()) names.add(d.name);
    return names;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' || code === 'ENOTDIR' ? 'gone' : 'unknown';
  }
}

function splitPath(abs: string): [string, string] {
  const i = abs.lastIndexOf(path.sep);
  return [abs.slice(0, i), abs.slice(i + 1)];
}
