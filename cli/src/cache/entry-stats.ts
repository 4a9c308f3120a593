import { existsSync, mkdirSync, rmSync } from 'node:fs';
import * as path from 'node:path';
import type Database from 'better-sqlite3';
import { openPrivateDatabase } from '../home/private-files.ts';

/** Mode of a verified cache entry: read-only, and private like everything under $STUDIOML_HOME. */
export const CACHE_ENTRY_MODE = 0o400;

/**
 * What a blob-cache file looked like when its content was last verified (or handed out as a hard link): inode, size,
 * mtime and ctime. Writing the file, truncating it, chmod, or replacing it changes at least one of them (ctime
 * cannot be set from user space), so an entry whose stat still matches needs no re-hash.
 */
export interface EntryStat {
  ino: number;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/**
 * The records, in SQLite next to the blobs (`<cache>/entries.db`), shared by concurrent processes (WAL). Like the stat
 * cache it may forget (a write that fails is dropped: the entry is re-hashed next time) but never vouches for a file
 * whose stat changed.
 */
export class EntryStats {
  private db: Database.Database | null = null;
  /** Prepared once per open database: a pull records 20,000 entries, and preparing per call cost more than the row. */
  private statements: {
    get: Database.Statement<[string], Row>;
    put: Database.Statement<[string, number, number, number, number]>;
  } | null = null;

  constructor(private readonly file: string) {}

  /** Recorded stats of `shas` (absent when never recorded or unreadable). */
  get(shas: readonly string[]): Map<string, EntryStat> {
    const out = new Map<string, EntryStat>();
    const db = this.open(false);
    if (db === null || shas.length === 0) return out;
    try {
      const stmt = this.prepared(db).get;
      db.transaction(() => {
        for (const sha of shas) {
          const r = stmt.get(sha);
          if (r) out.set(sha, { ino: r.ino, size: r.size, mtimeMs: r.mtime, ctimeMs: r.ctime });
        }
      })();
    } catch {
      out.clear();
    }
    return out;
  }

  /** Records (replaces) stats in one transaction; false when the database could not be written. */
  put(entries: readonly (EntryStat & { sha256: string })[]): boolean {
    const db = this.open(true);
    if (db === null) return false;
    try {
      const stmt = this.prepared(db).put;
      db.transaction(() => {
        for (const e of entries) stmt.run(e.sha256, e.ino, e.size, e.mtimeMs, e.ctimeMs);
      })();
      return true;
    } catch {
      return false;
    }
  }

  /** Forgets entries (evicted or quarantined blobs). */
  delete(shas: readonly string[]): void {
    const db = this.open(false);
    if (db === null || shas.length === 0) return;
    try {
      const stmt = db.prepare('DELETE FROM entries WHERE sha256 = ?');
      db.transaction(() => {
        for (const s of shas) stmt.run(s);
      })();
    } catch {
      // A stale row is harmless: it can only fail to match the next file of that name.
    }
  }

  close(): void {
    this.db?.close();
    this.db = null;
    this.statements = null;
  }

  private prepared(db: Database.Database) {
    this.statements ??= {
      get: db.prepare<[string], Row>('SELECT sha256, ino, size, mtime, ctime FROM entries WHERE sha256 = ?'),
      put: db.prepare<[string, number, number, number, number]>(
        'INSERT OR REPLACE INTO entries (sha256, ino, size, mtime, ctime) VALUES (?, ?, ?, ?, ?)',
      ),
    };
    return this.statements;
  }

  /** The database, created only when `create` (reading an empty cache must not write anything). */
  private open(create: boolean): Database.Database | null {
    if (this.db !== null) return this.db;
    if (!create && !existsSync(this.file)) return null;
    if (create) mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        const db = openPrivateDatabase(this.file, { timeout: 5000 });
        try {
          db.pragma('journal_mode = WAL');
          // Losing the last records on power failure only costs a re-hash.
          db.pragma('synchronous = NORMAL');
          db.exec(
            'CREATE TABLE IF NOT EXISTS entries (sha256 TEXT PRIMARY KEY, ino REAL NOT NULL, size INTEGER NOT NULL, ' +
              'mtime REAL NOT NULL, ctime REAL NOT NULL) WITHOUT ROWID',
          );
        } catch (err) {
          db.close();
          throw err;
        }
        this.db = db;
        this.statements = null;
        return db;
      } catch {
        // A corrupt file: it only holds records, start over (every entry is re-hashed once).
        if (attempt === 0) for (const suffix of ['', '-wal', '-shm']) rmSync(this.file + suffix, { force: true });
      }
    }
    return null;
  }
}

interface Row {
  sha256: string;
  ino: number;
  size: number;
  mtime: number;
  ctime: number;
}

/** True when `st` is the state that was recorded. */
export function sameStat(st: EntryStat, rec: EntryStat | undefined): boolean {
  return (
    rec !== undefined &&
    st.ino === rec.ino &&
    st.size === rec.size &&
    st.mtimeMs === rec.mtimeMs &&
    st.ctimeMs === rec.ctimeMs
  );
}
