import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it } from 'vitest';
import { openStatCache, type StatKey } from '../../src/capture/stat-cache.ts';
import { useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();
const key = (abs: string, over: Partial<StatKey> = {}): StatKey => ({
  abs,
  size: 10,
  mtimeMs: 1_700_000_000_123.456,
  ctimeMs: 1_700_000_000_200.5,
  ino: 42,
  dev: 2049,
  ...over,
});
const SHA_A = 'a'.repeat(64);
const SHA_B = '0123456789abcdef'.repeat(4);

describe('openStatCache', () => {
  it('returns the stored hash only when every stat field matches', () => {
    const c = openStatCache(':memory:');
    c.store([{ ...key('/d/f'), sha256: SHA_A }]);
    expect(c.lookup([key('/d/f')])).toEqual([SHA_A]);
    for (const over of [{ size: 11 }, { mtimeMs: 1_700_000_000_124 }, { ctimeMs: 1 }, { ino: 43 }, { dev: 1 }]) {
      expect(c.lookup([key('/d/f', over)])).toEqual([undefined]);
    }
    expect(c.lookup([key('/d/g'), key('/e/f')])).toEqual([undefined, undefined]);
    c.close();
  });

  it('merges entries of one directory stored in separate batches and updates changed ones', () => {
    const c = openStatCache(':memory:');
    c.store([{ ...key('/d/a'), sha256: SHA_A }]);
    c.store([{ ...key('/d/b'), sha256: SHA_B }]);
    c.store([{ ...key('/d/a', { size: 20 }), sha256: SHA_B }]);
    expect(c.lookup([key('/d/a', { size: 20 }), key('/d/b'), key('/d/a')])).toEqual([SHA_B, SHA_B, undefined]);
    c.close();
  });

  it('keeps names with unusual characters apart', () => {
    const c = openStatCache(':memory:');
    c.store([
      { ...key('/d/ünïcødé 名前'), sha256: SHA_A },
      { ...key('/d/with space', { ino: 7 }), sha256: SHA_B },
    ]);
    expect(c.lookup([key('/d/with space', { ino: 7 }), key('/d/ünïcødé 名前')])).toEqual([SHA_B, SHA_A]);
    c.close();
  });

  it('persists across reopen in WAL mode', () => {
    const file = path.join(tmp(), 'statcache.db');
    const c = openStatCache(file);
    c.store([{ ...key('/x/y'), sha256: SHA_A }]);
    c.close();
    const db = new Database(file, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    db.close();
    const c2 = openStatCache(file);
    expect(c2.lookup([key('/x/y')])).toEqual([SHA_A]);
    c2.close();
  });

  it('starts over when the file is not a database', () => {
    const file = path.join(tmp(), 'statcache.db');
    writeFileSync(file, 'this is not sqlite'.repeat(100));
    const c = openStatCache(file);
    expect(c.lookup([key('/x/y')])).toEqual([undefined]);
    expect(c.store([{ ...key('/x/y'), sha256: SHA_A }])).toBe(true);
    expect(c.lookup([key('/x/y')])).toEqual([SHA_A]);
    c.close();
    expect(existsSync(file)).toBe(true);
  });

  it('handles 20,000 entries in one batch quickly', () => {
    const c = openStatCache(path.join(tmp(), 'statcache.db'));
    const keys = Array.from({ length: 20_000 }, (_, i) => key(`/data/d${i % 200}/f${i}.bin`, { ino: i }));
    let t = performance.now();
    expect(c.store(keys.map((k) => ({ ...k, sha256: SHA_B })))).toBe(true);
    const storeMs = performance.now() - t;
    t = performance.now();
    const hits = c.lookup(keys);
    const lookupMs = performance.now() - t;
    expect(hits.every((h) => h === SHA_B)).toBe(true);
    // Generous bounds for shared CI machines; typical figures are a few ms to a few tens of ms.
    expect(storeMs).toBeLessThan(1000);
    expect(lookupMs).toBeLessThan(500);
    c.close();
  });
});

describe('StatCache.prune', () => {
  const realKey = (abs: string): StatKey => {
    const st = statSync(abs);
    return { abs, size: st.size, mtimeMs: st.mtimeMs, ctimeMs: st.ctimeMs, ino: st.ino, dev: st.dev };
  };

  /** Folders keep/{a,b,c}, gone/{x,y}, dir/z with real files and their entries stored. */
  function setup() {
    const root = tmp();
    const dirs = { keep: path.join(root, 'keep'), gone: path.join(root, 'gone'), dir: path.join(root, 'dir') };
    for (const d of Object.values(dirs)) mkdirSync(d);
    const files = {
      a: path.join(dirs.keep, 'a.bin'),
      b: path.join(dirs.keep, 'b.bin'),
      c: path.join(dirs.keep, 'c.bin'),
      x: path.join(dirs.gone, 'x'),
      y: path.join(dirs.gone, 'y'),
      z: path.join(dirs.dir, 'z'),
    };
    for (const f of Object.values(files)) writeFileSync(f, f);
    const keys = Object.values(files).map(realKey);
    const file = path.join(tmp(), 'statcache.db');
    const c = openStatCache(file);
    expect(c.store(keys.map((k) => ({ ...k, sha256: SHA_A })))).toBe(true);
    return { dirs, files, keys, file, c };
  }

  it('drops entries of deleted files and rows of deleted folders; a second prune removes nothing', () => {
    const { dirs, files, keys, file, c } = setup();
    expect(c.info()).toMatchObject({ dirs: 3, entries: 6 });
    expect(c.info().bytes).toBeGreaterThan(0);

    rmSync(files.b);
    // A name that became a directory can never match a file again.
    rmSync(files.c);
    mkdirSync(files.c);
    rmSync(dirs.gone, { recursive: true });
    // A folder replaced by a file of the same name is gone too.
    rmSync(dirs.dir, { recursive: true });
    writeFileSync(dirs.dir, 'a file where the folder was');

    expect(c.prune()).toEqual({ dirs: 3, removedDirs: 2, removedEntries: 5 });
    expect(c.lookup(keys)).toEqual([SHA_A, undefined, undefined, undefined, undefined, undefined]);
    expect(c.info()).toMatchObject({ dirs: 1, entries: 1 });
    expect(c.prune()).toEqual({ dirs: 1, removedDirs: 0, removedEntries: 0 });
    c.close();

    const again = openStatCache(file);
    expect(again.info()).toMatchObject({ dirs: 1, entries: 1 });
    expect(again.lookup(keys.slice(0, 1))).toEqual([SHA_A]);
    again.close();
  });

  it('removes the row of a folder whose files are all gone and keeps entries of files still there', () => {
    const { dirs, files, keys, c } = setup();
    for (const f of [files.a, files.b, files.c]) rmSync(f);
    expect(c.prune()).toEqual({ dirs: 3, removedDirs: 1, removedEntries: 3 });
    expect(existsSync(dirs.keep)).toBe(true);
    expect(c.lookup(keys)).toEqual([undefined, undefined, undefined, SHA_A, SHA_A, SHA_A]);
    expect(c.info()).toMatchObject({ dirs: 2, entries: 3 });
    c.close();
  });

  it('prunes nothing of a cache it cannot write (busy past the timeout) and does not throw', () => {
    const { files, keys, file, c } = setup();
    rmSync(files.a);
    const other = new Database(file, { timeout: 0 });
    other.exec('BEGIN IMMEDIATE');
    try {
      expect(c.prune()).toEqual({ dirs: 3, removedDirs: 0, removedEntries: 0 });
    } finally {
      other.exec('ROLLBACK');
      other.close();
    }
    expect(c.lookup(keys.slice(0, 1))).toEqual([SHA_A]);
    expect(c.prune()).toEqual({ dirs: 3, removedDirs: 0, removedEntries: 1 });
    c.close();
  });

  it('treats an empty or missing table as nothing to prune', () => {
    const c = openStatCache(':memory:');
    expect(c.prune()).toEqual({ dirs: 0, removedDirs: 0, removedEntries: 0 });
    expect(c.info()).toEqual({ dirs: 0, entries: 0, bytes: 0 });
    c.close();
  });
});
