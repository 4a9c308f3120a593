// syncVersion (the tensorboard command's layout): a subfolder made to hold exactly one version, from the blob cache;
// grown files rewritten in place (a reader holding one open reads on), others left alone, files the version no
// longer has removed; after a restart (nothing known) files are compared by content.
import { createHash } from 'node:crypto';
import {
  closeSync,
  existsSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import * as path from 'node:path';
import type { Manifest } from '@studio-lite/functions/contract';
import { describe, expect, it } from 'vitest';
import { BlobCache } from '../../src/cache/blob-cache.ts';
import { type LaidState, syncVersion } from '../../src/commands/tensorboard/tb-sync.ts';
import { createLogger } from '../../src/logger.ts';
import { useTmpDirs } from './helpers/tmp-dir.ts';

const tmp = useTmpDirs();
const sha = (s: string) => createHash('sha256').update(s).digest('hex');
const MTIME = 1_600_000_000_000;
const log = createLogger({ quiet: true });
/** Every blob is in the cache: a request to sign downloads is a bug. */
const client = {
  signDownloads: () => Promise.reject(new Error('nothing should be downloaded')),
};

const file = (p: string, content: string, mode = 0o644) => ({
  path: p,
  size: Buffer.byteLength(content),
  sha256: sha(content),
  mode,
  mtime: MTIME,
});

async function filled(contents: string[]): Promise<BlobCache> {
  const c = new BlobCache(tmp('studio-cache-'));
  for (const s of contents) {
    const b = Buffer.from(s);
    await c.ingest(sha(s), b.length, new Response(b).body as ReadableStream<Uint8Array>);
  }
  return c;
}

async function sync(cache: BlobCache, dir: string, manifest: Manifest, known: LaidState | null, priv = false) {
  return syncVersion({
    client,
    cache,
    ref: { experiment: 'e', tag: 'tb', version: 1 },
    manifest,
    dir,
    known,
    private: priv,
    log,
  });
}

const v1: Manifest = {
  files: [file('train/events.1', 'step1\n'), file('old/gone.txt', 'old'), file('same.txt', 'same')],
  links: [],
};
const v2: Manifest = {
  files: [file('train/events.1', 'step1\nstep2\n'), file('same.txt', 'same'), file('eval/new.txt', 'new')],
  links: [],
};

describe('syncVersion', () => {
  it('lays out a version, then the next one: appends in place, keeps the unchanged, removes the rest', async () => {
    const cache = await filled(['step1\n', 'old', 'same', 'step1\nstep2\n', 'new']);
    const dir = path.join(tmp(), 'logdir', 'e');
    const first = await sync(cache, dir, v1, null);
    expect(first).toMatchObject({ files: 3, bytes: 13, downloadedBlobs: 0, updated: 0, removed: 0 });
    expect(readFileSync(path.join(dir, 'train', 'events.1'), 'utf8')).toBe('step1\n');

    const events = path.join(dir, 'train', 'events.1');
    const held = openSync(events, 'r');
    const ino = statSync(events).ino;
    const sameIno = statSync(path.join(dir, 'same.txt')).ino;
    writeFileSync(path.join(dir, 'stray.txt'), 'not in any version');
    try {
      const second = await sync(cache, dir, v2, first.state);
      expect(second).toMatchObject({ files: 3, updated: 1, removed: 2 });
      expect(statSync(events).ino).toBe(ino);
      const buf = Buffer.alloc(32);
      expect(buf.toString('utf8', 0, readSync(held, buf, 0, 32, 6))).toBe('step2\n');
    } finally {
      closeSync(held);
    }
    expect(statSync(path.join(dir, 'same.txt')).ino).toBe(sameIno);
    expect(readFileSync(path.join(dir, 'eval', 'new.txt'), 'utf8')).toBe('new');
    expect(existsSync(path.join(dir, 'old'))).toBe(false);
    expect(readdirSync(dir).sort()).toEqual(['eval', 'same.txt', 'train']);
    expect(statSync(events).mtimeMs).toBe(MTIME);
  });

  it('after a restart compares by content: same bytes kept, other bytes rewritten in place, shorter files cut', async () => {
    const cache = await filled(['step1\nstep2\n', 'same', 'new']);
    const dir = path.join(tmp(), 'e');
    mkdirSync(path.join(dir, 'train'), { recursive: true });
    mkdirSync(path.join(dir, 'eval'));
    writeFileSync(path.join(dir, 'train', 'events.1'), 'step1\nSTEP2\nand a longer tail\n', { mode: 0o644 });
    writeFileSync(path.join(dir, 'same.txt'), 'same', { mode: 0o644 });
    writeFileSync(path.join(dir, 'eval', 'new.txt'), 'NEW', { mode: 0o644 });
    const ino = statSync(path.join(dir, 'train', 'events.1')).ino;
    const r = await sync(cache, dir, v2, null);
    expect(r).toMatchObject({ updated: 2, removed: 0 });
    expect(readFileSync(path.join(dir, 'train', 'events.1'), 'utf8')).toBe('step1\nstep2\n');
    expect(statSync(path.join(dir, 'train', 'events.1')).ino).toBe(ino);
    expect(readFileSync(path.join(dir, 'eval', 'new.txt'), 'utf8')).toBe('new');
    // Kept as it was: its mtime was never set to the version's.
    expect(statSync(path.join(dir, 'same.txt')).mtimeMs).not.toBe(MTIME);
  });

  it('under the home: files without group/other bits, folders 0700', async () => {
    const cache = await filled(['step1\nstep2\n', 'same', 'new']);
    const dir = path.join(tmp(), 'e');
    await sync(cache, dir, v2, null, true);
    expect(statSync(path.join(dir, 'same.txt')).mode & 0o777).toBe(0o600);
    expect(statSync(path.join(dir, 'eval')).mode & 0o777).toBe(0o700);
    expect(statSync(path.join(dir, 'train')).mode & 0o777).toBe(0o700);
  });
});
