import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  lstatSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import { isStudioError, type Manifest } from '@studio-lite/functions/contract';
import { describe, expect, it } from 'vitest';
import { BlobCache } from '../../src/cache/blob-cache.ts';
import { materialize } from '../../src/cache/materialize.ts';
import { useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const MTIME = 1_600_000_000_000;

async function filled(contents: string[]): Promise<BlobCache> {
  const c = new BlobCache(tmp('studio-cache-'));
  for (const s of contents) {
    const b = Buffer.from(s);
    await c.ingest(sha(s), b.length, new Response(b).body as ReadableStream<Uint8Array>);
  }
  return c;
}

const file = (p: string, content: string, mode = 0o644) => ({
  path: p,
  size: Buffer.byteLength(content),
  sha256: sha(content),
  mode,
  mtime: MTIME,
});

describe('materialize', () => {
  const manifest: Manifest = {
    files: [
      file('a.txt', 'alpha'),
      file('sub/deep/b.txt', 'beta'),
      file('copy-of-a.txt', 'alpha'),
      file('bin/run.sh', '#!/bin/sh', 0o4755),
    ],
    links: [{ path: 'sub/latest', target: 'deep/b.txt' }],
  };

  it('hard-links plain files from the cache, copies executables, restores links and mtimes', async () => {
    const cache = await filled(['alpha', 'beta', '#!/bin/sh']);
    const dest = path.join(tmp(), 'out');
    const r = await materialize(manifest, cache, dest, { mode: 'link' });
    expect(r).toMatchObject({ linked: 3, copied: 1, links: 1, skipped: [], missing: [] });
    expect(statSync(path.join(dest, 'a.txt')).ino).toBe(statSync(cache.path(sha('alpha'))).ino);
    expect(statSync(path.join(dest, 'a.txt')).mode & 0o777).toBe(0o400);
    expect(readFileSync(path.join(dest, 'sub/deep/b.txt'), 'utf8')).toBe('beta');
    expect(readlinkSync(path.join(dest, 'sub/latest'))).toBe('deep/b.txt');
    expect(readFileSync(path.join(dest, 'sub/latest'), 'utf8')).toBe('beta');
    expect(statSync(path.join(dest, 'a.txt')).mtimeMs).toBe(MTIME);
    const run = statSync(path.join(dest, 'bin/run.sh'));
    expect(run.ino).not.toBe(statSync(cache.path(sha('#!/bin/sh'))).ino);
    // setuid is never restored
    expect(run.mode & 0o7777).toBe(0o755);
  });

  it('copies every file in copy mode, writable with the manifest mode', async () => {
    const cache = await filled(['alpha', 'beta', '#!/bin/sh']);
    const dest = tmp();
    const r = await materialize(manifest, cache, dest, { mode: 'copy' });
    expect(r).toMatchObject({ linked: 0, copied: 4, links: 1 });
    const a = statSync(path.join(dest, 'a.txt'));
    expect(a.ino).not.toBe(statSync(cache.path(sha('alpha'))).ino);
    expect(a.mode & 0o777).toBe(0o644);
    expect(a.mtimeMs).toBe(MTIME);
    writeFileSync(path.join(dest, 'a.txt'), 'changed');
    expect(readFileSync(cache.path(sha('alpha')), 'utf8')).toBe('alpha');
  });

  it('replaces existing files and symlinks at destination paths without following them', async () => {
    const cache = await filled(['alpha']);
    const dest = tmp();
    const outside = path.join(tmp(), 'victim.txt');
    writeFileSync(outside, 'untouched');
    symlinkSync(outside, path.join(dest, 'a.txt'));
    const r = await materialize({ files: [file('a.txt', 'alpha')], links: [] }, cache, dest, { mode: 'copy' });
    expect(r.copied).toBe(1);
    expect(lstatSync(path.join(dest, 'a.txt')).isFile()).toBe(true);
    expect(readFileSync(outside, 'utf8')).toBe('untouched');
  });

  it('does not write through a pre-existing symlinked directory', async () => {
    const cache = await filled(['alpha']);
    const dest = tmp();
    const outside = tmp();
    symlinkSync(outside, path.join(dest, 'sub'));
    const r = await materialize({ files: [file('sub/a.txt', 'alpha')], links: [] }, cache, dest, { mode: 'link' });
    expect(r.skipped).toEqual(['sub/a.txt: a parent is not a directory']);
    expect(existsSync(path.join(outside, 'a.txt'))).toBe(false);
  });

  it('keeps only symlinks that resolve inside the destination, through other links too', async () => {
    const cache = await filled([]);
    const dest = tmp();
    const warnings: string[] = [];
    const r = await materialize(
      {
        files: [],
        links: [
          { path: 'abs', target: '/etc/passwd' },
          { path: 'up', target: '../../etc' },
          { path: 'a/b/s', target: '../../x' },
          // Lexically a/b/s/../.. is "a", but the kernel goes through s to the root, then above it.
          { path: 'a/b/t', target: 's/../..' },
          { path: 'here', target: '.' },
        ],
      },
      cache,
      dest,
      { mode: 'link', warn: (m) => warnings.push(m) },
    );
    expect(r.links).toBe(2);
    expect(r.skipped.map((s) => s.split(':')[0]).sort()).toEqual(['a/b/t', 'abs', 'up']);
    expect(warnings).toHaveLength(3);
    expect(existsSync(path.join(dest, 'a/b/t'))).toBe(false);
    expect(lstatSync(path.join(dest, 'a/b/s')).isSymbolicLink()).toBe(true);
  });

  it.each([
    ['resized (still read-only)', 'ALPHA!', 0o400],
    ['made writable (same size)', 'ALPHA', 0o644],
  ])(
    'quarantines a cache entry that was %s and reports it missing instead of linking it',
    async (_w, content, mode) => {
      const cache = await filled(['alpha', 'beta']);
      const p = cache.path(sha('alpha'));
      chmodSync(p, 0o644);
      writeFileSync(p, content);
      chmodSync(p, mode);
      const dest = tmp();
      const warnings: string[] = [];
      const r = await materialize({ files: [file('a.txt', 'alpha'), file('b.txt', 'beta')], links: [] }, cache, dest, {
        mode: 'link',
        warn: (m) => warnings.push(m),
      });
      expect(r.missing).toEqual([{ sha256: sha('alpha'), size: 5 }]);
      expect(r.quarantined).toEqual([sha('alpha')]);
      expect(r.linked).toBe(1);
      expect(existsSync(p)).toBe(false);
      expect(existsSync(path.join(dest, 'a.txt'))).toBe(false);
      expect(warnings).toHaveLength(1);
      expect(warnings[0]).toMatch(/changed behind studio-lite's back.*quarantine/);
      expect(
        readdirSync(cache.quarantineDir).map((n) => readFileSync(path.join(cache.quarantineDir, n), 'utf8')),
      ).toEqual([content]);
    },
  );

  it('link mode: a write through a pulled file (same size, mtime put back) is caught by its ctime', async () => {
    const cache = await filled(['alpha', 'beta', 'gamma']);
    const m: Manifest = { files: [file('a.txt', 'alpha'), file('b.txt', 'beta'), file('c.txt', 'gamma')], links: [] };
    const first = tmp();
    expect(await materialize(m, cache, first, { mode: 'link' })).toMatchObject({ linked: 3, missing: [] });
    // Root ignores the read-only bit; a careful tool even restores the mtime.
    for (const [name, bytes] of [
      ['a.txt', 'ALPHA'],
      ['b.txt', 'BETA'],
    ]) {
      const f = path.join(first, name as string);
      // Root writes through 0444 as it is; anyone else needs a chmod first (which also moves the ctime).
      if (process.getuid?.() !== 0) chmodSync(f, 0o644);
      writeFileSync(f, bytes as string);
      utimesSync(f, MTIME / 1000, MTIME / 1000);
    }
    const warnings: string[] = [];
    const again = await materialize(m, cache, tmp(), { mode: 'link', warn: (w) => warnings.push(w) });
    expect(again.quarantined.sort()).toEqual([sha('alpha'), sha('beta')].sort());
    expect(again.missing.map((x) => x.sha256).sort()).toEqual([sha('alpha'), sha('beta')].sort());
    expect(again.linked).toBe(1);
    expect(warnings).toEqual([expect.stringMatching(/^blob cache 2 entries changed behind/)]);
    // The user's folder keeps what they wrote; the cache no longer holds it.
    expect(readFileSync(path.join(first, 'a.txt'), 'utf8')).toBe('ALPHA');
    expect(await cache.has(sha('alpha'), 5)).toBe(false);
  });

  it('an entry whose stat moved but whose bytes are intact (chmod, a link made elsewhere) is re-hashed and kept', async () => {
    const cache = await filled(['alpha']);
    const p = cache.path(sha('alpha'));
    chmodSync(p, 0o666);
    const warnings: string[] = [];
    const dest = tmp();
    const r = await materialize({ files: [file('a.txt', 'alpha')], links: [] }, cache, dest, {
      mode: 'copy',
      warn: (w) => warnings.push(w),
    });
    expect(r).toMatchObject({ copied: 1, missing: [], quarantined: [] });
    expect(warnings).toEqual([]);
    expect(statSync(p).mode & 0o777).toBe(0o400);
    expect(readFileSync(path.join(dest, 'a.txt'), 'utf8')).toBe('alpha');
  });

  it('copy mode keeps the captured mode (0600 stays 0600), never setuid', async () => {
    const cache = await filled(['alpha', 'beta']);
    const dest = tmp();
    const m: Manifest = { files: [file('secret.key', 'alpha', 0o600), file('suid', 'beta', 0o6750)], links: [] };
    await materialize(m, cache, dest, { mode: 'copy' });
    expect(statSync(path.join(dest, 'secret.key')).mode & 0o7777).toBe(0o600);
    expect(statSync(path.join(dest, 'suid')).mode & 0o7777).toBe(0o750);
  });

  it('a name this file system refuses fails with E_BAD_PATH naming it', async () => {
    const cache = await filled(['alpha']);
    const long = `d/${'x'.repeat(300)}`;
    const err = await materialize({ files: [file(long, 'alpha')], links: [] }, cache, tmp(), { mode: 'copy' }).catch(
      (e: unknown) => e,
    );
    expect(isStudioError(err, 'E_BAD_PATH')).toBe(true);
    expect((err as Error).message).toContain(`"${long.slice(0, 100)}`);
    expect((err as Error).message).toContain('ENAMETOOLONG');
  });

  it('reports blobs absent from the cache as missing', async () => {
    const cache = await filled([]);
    const r = await materialize({ files: [file('a.txt', 'alpha')], links: [] }, cache, tmp(), { mode: 'copy' });
    expect(r.missing).toEqual([{ sha256: sha('alpha'), size: 5 }]);
  });

  it('refuses to replace a directory with a file', async () => {
    const cache = await filled(['alpha']);
    const dest = tmp();
    mkdirSync(path.join(dest, 'a.txt'));
    const r = await materialize({ files: [file('a.txt', 'alpha')], links: [] }, cache, dest, { mode: 'copy' });
    expect(r.skipped).toEqual(['a.txt: a directory is in the way']);
  });
});

describe('materialize while a prune evicts', () => {
  it('a cache entry evicted between its check and its link is reported missing, not thrown', async () => {
    const cache = await filled(['kept', 'evicted']);
    const gone = sha('evicted');
    let calls = 0;
    // The second look-up of the entry is place()'s: evict it right before, as a concurrent `cache prune` would.
    const racing = Object.create(cache) as BlobCache;
    racing.path = (s: string) => {
      const p = cache.path(s);
      if (s === gone && ++calls === 2) rmSync(p, { force: true });
      return p;
    };
    const dest = tmp('studio-dest-');
    const m: Manifest = { files: [file('a.txt', 'kept'), file('b.txt', 'evicted')], links: [] };
    const r = await materialize(m, racing, dest, { mode: 'link' });
    expect(calls).toBeGreaterThanOrEqual(2); // check, place (and the re-check after the failed link)
    expect(r.missing).toEqual([{ sha256: gone, size: 7 }]);
    expect(readFileSync(path.join(dest, 'a.txt'), 'utf8')).toBe('kept');
    expect(existsSync(path.join(dest, 'b.txt'))).toBe(false);
  });
});
