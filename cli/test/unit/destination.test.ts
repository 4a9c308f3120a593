import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import * as path from 'node:path';
import { isStudioError, type Manifest } from '@studio-lite/functions/contract';
import { describe, expect, it } from 'vitest';
import { prepareDestination } from '../../src/artifacts/destination.ts';
import { BlobCache } from '../../src/cache/blob-cache.ts';
import { materialize } from '../../src/cache/materialize.ts';
import { useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const file = (p: string, content: string, mode = 0o644) => ({
  path: p,
  size: Buffer.byteLength(content),
  sha256: sha(content),
  mode,
  mtime: 1_600_000_000_000,
});

async function cacheWith(contents: string[]): Promise<BlobCache> {
  const c = new BlobCache(tmp('studio-cache-'));
  for (const s of contents) await c.ingest(sha(s), Buffer.byteLength(s), new Response(s).body as ReadableStream);
  return c;
}

/** What fetchArtifact does, minus the network. */
async function pull(m: Manifest, cache: BlobCache, dest: string, force = false): Promise<void> {
  const target = await prepareDestination(dest, m, { force });
  const created: string[] = [];
  try {
    await materialize(m, cache, target.dir, { mode: 'copy', keep: target.keep, created });
    await target.finish();
  } catch (err) {
    await target.abort(created);
    throw err;
  }
}

const errorOf = (p: Promise<unknown>) =>
  p.then(
    () => null,
    (e: unknown) => e,
  );
const tooLong = `deep/${'x'.repeat(300)}`;

describe('pull destination', () => {
  it('a new folder is built aside and renamed into place; a failed pull leaves no folder, not even its parent', async () => {
    const cache = await cacheWith(['alpha', 'beta']);
    const parent = tmp();
    const ok: Manifest = { files: [file('a.txt', 'alpha'), file('sub/b.txt', 'beta')], links: [] };
    await pull(ok, cache, path.join(parent, 'out'));
    expect(readdirSync(parent)).toEqual(['out']);
    expect(readFileSync(path.join(parent, 'out', 'sub', 'b.txt'), 'utf8')).toBe('beta');

    const bad: Manifest = { files: [file('a.txt', 'alpha'), file(tooLong, 'beta')], links: [] };
    const err = await errorOf(pull(bad, cache, path.join(parent, 'new', 'deeper', 'out')));
    expect(isStudioError(err, 'E_BAD_PATH')).toBe(true);
    expect(readdirSync(parent)).toEqual(['out']);
  });

  it('into an existing folder: differing files refuse the pull (nothing changed); identical ones are kept', async () => {
    const cache = await cacheWith(['alpha', 'beta', 'gamma']);
    const dest = tmp();
    writeFileSync(path.join(dest, 'a.txt'), 'alpha');
    writeFileSync(path.join(dest, 'b.txt'), 'edited');
    writeFileSync(path.join(dest, 'mine.txt'), 'not in the artifact');
    const m: Manifest = {
      files: [file('a.txt', 'alpha'), file('b.txt', 'beta'), file('new/c.txt', 'gamma')],
      links: [],
    };
    const before = statSync(path.join(dest, 'a.txt')).ino;

    const err = await errorOf(pull(m, cache, dest));
    expect(isStudioError(err, 'E_DEST_EXISTS')).toBe(true);
    expect((err as Error).message).toMatch(/1 file\(s\) in .* differ from the artifact: "b.txt"; nothing was changed/);
    expect(readdirSync(dest).sort()).toEqual(['a.txt', 'b.txt', 'mine.txt']);
    expect(readFileSync(path.join(dest, 'b.txt'), 'utf8')).toBe('edited');

    await pull(m, cache, dest, true);
    expect(readFileSync(path.join(dest, 'b.txt'), 'utf8')).toBe('beta');
    expect(readFileSync(path.join(dest, 'new', 'c.txt'), 'utf8')).toBe('gamma');
    expect(readFileSync(path.join(dest, 'mine.txt'), 'utf8')).toBe('not in the artifact');
    // The identical file was not rewritten.
    expect(statSync(path.join(dest, 'a.txt')).ino).toBe(before);
  });

  it('a mode that differs from the captured one counts as a difference', async () => {
    const cache = await cacheWith(['key']);
    const dest = tmp();
    writeFileSync(path.join(dest, 'id.key'), 'key');
    chmodSync(path.join(dest, 'id.key'), 0o644);
    const m: Manifest = { files: [file('id.key', 'key', 0o600)], links: [] };
    expect(isStudioError(await errorOf(pull(m, cache, dest)), 'E_DEST_EXISTS')).toBe(true);
    await pull(m, cache, dest, true);
    expect(statSync(path.join(dest, 'id.key')).mode & 0o777).toBe(0o600);
  });

  it('a failed pull into an existing folder removes only what it created', async () => {
    const cache = await cacheWith(['alpha', 'beta']);
    const dest = tmp();
    mkdirSync(path.join(dest, 'deep'));
    writeFileSync(path.join(dest, 'deep', 'mine.txt'), 'mine');
    const m: Manifest = { files: [file('fresh/a.txt', 'alpha'), file(tooLong, 'beta')], links: [] };
    const err = await errorOf(pull(m, cache, dest));
    expect(isStudioError(err, 'E_BAD_PATH')).toBe(true);
    expect(readdirSync(dest)).toEqual(['deep']);
    expect(readdirSync(path.join(dest, 'deep'))).toEqual(['mine.txt']);
  });

  it('a destination that is a file is refused', async () => {
    const f = path.join(tmp(), 'file');
    writeFileSync(f, 'x');
    const err = await errorOf(prepareDestination(f, { files: [], links: [] }, { force: true }));
    expect(isStudioError(err, 'E_DEST_EXISTS')).toBe(true);
    expect(existsSync(f)).toBe(true);
  });
});
