// `cache info` / `cache prune`: local files only; pruning forgets deleted files, evicting never breaks a pulled folder.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { CacheInfoJson, CachePruneJson } from '../../src/commands/cache/cache-command.ts';
import { cli, cliOk, errorLine, listFiles, pullJson, useSandboxes } from './helpers.ts';

const sandbox = useSandboxes();

describe('cache', () => {
  it('reports, prunes stale stat-cache entries, evicts blobs, and a later pull downloads them again', async () => {
    const sb = sandbox();
    const data = join(sb.tmp(), 'data');
    mkdirSync(join(data, 'sub'), { recursive: true });
    const files: Record<string, Buffer> = {
      'a.bin': randomBytes(30_000),
      'b.txt': Buffer.from('bee\n'),
      'sub/c.bin': randomBytes(10_000),
    };
    // An hour old: files changed within the last seconds are not stat-cached (racy mtime window).
    const old = Date.now() / 1000 - 3600;
    for (const [rel, buf] of Object.entries(files)) {
      writeFileSync(join(data, rel), buf);
      utimesSync(join(data, rel), old, old);
    }
    writeFileSync(join(sb.cwd, 'noop.py'), 'pass\n');
    await cliOk(sb, ['run', '-q', '-c', `${data}:d`, '-e', 'src', 'noop.py']);
    const out = sb.tmp();
    const first = await pullJson(sb, 'src/d', join(out, 'p1'), ['--link']);
    expect(first.downloadedBlobs).toBe(3);

    const info = JSON.parse((await cliOk(sb, ['cache', 'info', '--json'])).stdout) as CacheInfoJson;
    expect(info.blobCache.blobs).toBeGreaterThanOrEqual(3);
    expect(info.blobCache.bytes).toBeGreaterThanOrEqual(40_004);
    // The pulled folder hard-links the cache files.
    expect(info.blobCache.sharedBlobs).toBeGreaterThanOrEqual(3);
    expect(info.statCache.entries).toBeGreaterThanOrEqual(3);
    expect(info.statCache.dirs).toBeGreaterThanOrEqual(2);
    const human = await cliOk(sb, ['cache', 'info']);
    expect(human.stdout).toMatch(
      /^blob cache: \d+ blob\(s\), [\d.]+ KiB .*\nstat cache: \d+ file\(s\) in \d+ folder\(s\)/,
    );

    // The captured files go away: their hashes can never be used again.
    rmSync(join(data, 'a.bin'));
    rmSync(join(data, 'sub'), { recursive: true });
    const pruned = JSON.parse((await cliOk(sb, ['cache', 'prune', '--json'])).stdout) as CachePruneJson;
    expect(pruned.statCache.removedEntries).toBe(2);
    expect(pruned.statCache.removedDirs).toBe(1);
    expect(pruned.blobCache).toMatchObject({ maxBytes: null, evicted: 0, blobs: info.blobCache.blobs });
    const again = JSON.parse((await cliOk(sb, ['cache', 'prune', '--json'])).stdout) as CachePruneJson;
    expect(again.statCache).toMatchObject({ removedEntries: 0, removedDirs: 0 });
    const after = JSON.parse((await cliOk(sb, ['cache', 'info', '--json'])).stdout) as CacheInfoJson;
    expect(after.statCache.entries).toBe(info.statCache.entries - 2);

    // Empty the blob cache: the pulled folder keeps its bytes (hard links), so nothing is freed.
    const emptied = JSON.parse(
      (await cliOk(sb, ['cache', 'prune', '--max-size', '0', '--json'])).stdout,
    ) as CachePruneJson;
    expect(emptied.blobCache).toMatchObject({
      maxBytes: 0,
      evicted: info.blobCache.blobs,
      freedBytes: 0,
      blobs: 0,
      bytes: 0,
    });
    for (const [rel, buf] of Object.entries(files)) expect(readFileSync(join(out, 'p1', rel)).equals(buf)).toBe(true);

    const second = await pullJson(sb, 'src/d', join(out, 'p2'));
    expect(second.downloadedBlobs).toBe(3);
    expect(second.cachedBlobs).toBe(0);
    expect(listFiles(join(out, 'p2'))).toEqual(Object.keys(files).sort());
    for (const [rel, buf] of Object.entries(files)) expect(readFileSync(join(out, 'p2', rel)).equals(buf)).toBe(true);

    // Human output of a prune with a size.
    const trimmed = await cliOk(sb, ['cache', 'prune', '--max-size', '1.5G']);
    expect(trimmed.stdout).toMatch(/^blob cache: evicted 0 blob\(s\) for --max-size 1.50 GiB, freed 0 B; 3 blob\(s\)/);
    expect(trimmed.stdout).toMatch(/\nstat cache: removed 0 entries of deleted files, forgot 0 of \d+ folder\(s\)\n$/);
  });

  it('works on an empty home without creating a backend, and rejects a bad --max-size with exit 2', async () => {
    const sb = sandbox();
    const info = JSON.parse((await cliOk(sb, ['cache', 'info', '--json'])).stdout) as CacheInfoJson;
    expect(info.blobCache).toMatchObject({ blobs: 0, bytes: 0 });
    expect(info.statCache).toMatchObject({ dirs: 0, entries: 0 });
    await cliOk(sb, ['cache', 'prune', '--max-size', '500M']);
    expect(existsSync(join(sb.home, 'db'))).toBe(false);
    expect(existsSync(join(sb.home, 'credentials.json'))).toBe(false);
    expect(existsSync(join(sb.home, 'statcache.db'))).toBe(false);

    for (const bad of ['ten', '-1', '5X', '1e3', '']) {
      const r = await cli(sb, ['cache', 'prune', '--max-size', bad]);
      expect(r.code, r.stderr).toBe(2);
      const e = errorLine(r.stderr);
      expect(e.code).toBe('E_BAD_REQUEST');
      expect(e.message).toContain('--max-size');
      expect(r.stdout).toBe('');
    }
  });
});
