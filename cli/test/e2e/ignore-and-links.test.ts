// The workspace honours .studioml_ignore; a symlink pointing out of a captured folder is recorded as a link, never
// followed, and never materialised with the outside file's bytes.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  artifact,
  cliOk,
  listFiles,
  pullJson,
  showJson,
  storeBlobFiles,
  storedManifest,
  storePackFiles,
  useSandboxes,
} from './helpers.ts';

const sandbox = useSandboxes();

describe('.studioml_ignore and symlinks', () => {
  it('keeps ignored files out of the workspace artifact', async () => {
    const sb = sandbox();
    writeFileSync(join(sb.cwd, '.studioml_ignore'), 'data/\n*.log\n');
    mkdirSync(join(sb.cwd, 'data', 'sub'), { recursive: true });
    writeFileSync(join(sb.cwd, 'data', 'big.bin'), 'ignored data');
    writeFileSync(join(sb.cwd, 'data', 'sub', 'x.txt'), 'ignored too');
    writeFileSync(join(sb.cwd, 'train.log'), 'ignored log');
    mkdirSync(join(sb.cwd, 'src'));
    writeFileSync(join(sb.cwd, 'src', 'keep.log.txt'), 'kept');
    writeFileSync(join(sb.cwd, 'script.py'), 'pass\n');
    await cliOk(sb, ['run', '-q', '-e', 'ign', 'script.py']);

    const show = await showJson(sb, 'ign');
    const ws = artifact(show, 'workspace');
    expect(ws.mutable).toBe(false);
    expect(ws.versions.at(-1)?.files).toBe(3);
    const pulled = await pullJson(sb, 'ign/workspace', join(sb.tmp(), 'ws'));
    expect(listFiles(pulled.dest)).toEqual(['.studioml_ignore', 'script.py', 'src/keep.log.txt']);
  });

  it('records a symlink leaving the captured folder as a link and never copies its target bytes', async () => {
    const sb = sandbox();
    const outside = join(sb.tmp(), 'secret.txt');
    const secret = 'OUTSIDE-SECRET-BYTES-7f3a9c';
    writeFileSync(outside, secret);
    const cap = join(sb.cwd, 'cap');
    mkdirSync(cap);
    writeFileSync(join(cap, 'inside.txt'), 'inside');
    symlinkSync(outside, join(cap, 'escape'));
    symlinkSync('inside.txt', join(cap, 'local-link'));
    writeFileSync(join(sb.cwd, 'script.py'), 'pass\n');
    await cliOk(sb, ['run', '-q', '-c', './cap:cap', '-e', 'links', 'script.py']);

    const show = await showJson(sb, 'links');
    const v = artifact(show, 'cap').versions.at(-1);
    expect(v?.files).toBe(1);
    const manifest = storedManifest(sb.home, v?.manifestSha256 as string);
    expect(manifest.files.map((f) => f.path)).toEqual(['inside.txt']);
    expect(manifest.links).toEqual(
      expect.arrayContaining([
        { path: 'escape', target: outside },
        { path: 'local-link', target: 'inside.txt' },
      ]),
    );
    // The outside bytes reached neither the store nor the blob cache.
    for (const f of [...storeBlobFiles(sb.home), ...storePackFiles(sb.home)]) {
      expect(readFileSync(f, 'utf8')).not.toContain(secret);
    }

    const pulled = await pullJson(sb, 'links/cap', join(sb.tmp(), 'pulled'));
    const dest = pulled.dest;
    expect(readFileSync(join(dest, 'local-link'), 'utf8')).toBe('inside');
    // The escaping link is skipped (or restored as a link): its target's bytes are never copied in.
    const names = listFiles(dest);
    expect(names).not.toContain('escape');
    for (const n of names) expect(readFileSync(join(dest, n), 'utf8')).not.toContain(secret);
    for (const n of listFiles(join(sb.home, 'blobcache'))) {
      expect(readFileSync(join(sb.home, 'blobcache', n), 'utf8')).not.toContain(secret);
    }
  });
});
