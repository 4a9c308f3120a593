import { existsSync, writeFileSync } from 'node:fs';
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
