// Periodic captures of a mutable artifact are incremental: one changed file among 500 costs one hash and one upload,
// and intervals without a change make no version.
import { mkdirSync, readFileSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  artifact,
  cliOk,
  recordedBlobs,
  sha256,
  showJson,
  storeBlobFiles,
  storePackFiles,
  useSandboxes,
} from './helpers.ts';

const sandbox = useSandboxes();
const N = 500;
const HOUR_AGO = (Date.now() - 3600_000) / 1000;

describe('incremental capture', () => {
  it('re-hashes and uploads only the one changed file, and stores exactly the new blobs', async () => {
    const sb = sandbox();
    // The data folder lives outside the cwd, so the workspace artifact holds only the script.
    const data = join(sb.tmp(), 'data');
    mkdirSync(data);
    const contents = new Map<string, string>();
    for (let i = 0; i < N; i++) {
      const name = `f${String(i).padStart(3, '0')}.txt`;
      contents.set(name, `file number ${i}\n`);
      writeFileSync(join(data, name), `file number ${i}\n`);
      utimesSync(join(data, name), HOUR_AGO, HOUR_AGO); // not "racily clean" for the stat cache
    }
    const changed = 'changed content of f123\n';
    // Atomic replace (temp file + rename) so a capture in flight never sees a half-written file.
    const script = [
      'import os, sys, time',
      'd = sys.argv[1]',
      'time.sleep(2.5)',
      "tmp = os.path.join(os.path.dirname(d), 'f123.tmp')",
      "with open(tmp, 'w') as f:",
      `    f.write(${JSON.stringify(changed)})`,
      "os.replace(tmp, os.path.join(d, 'f123.txt'))",
      'time.sleep(2.5)',
    ].join('\n');
    writeFileSync(join(sb.cwd, 'touch_one.py'), script);

    await cliOk(sb, ['run', '--capture-interval', '1', '-c', `${data}:data`, '-e', 'inc', 'touch_one.py', data]);
    const show = await showJson(sb, 'inc');
    expect(show.experiment.status).toBe('finished');
    const d = artifact(show, 'data');
    // Version 1 at the first interval, version 2 after the change; the unchanged intervals (>= 2 before the change
    // and >= 2 after it, plus the final capture) made none.
    expect(d.versions.map((v) => v.version)).toEqual([1, 2]);
    const [v1, v2] = d.versions as [(typeof d.versions)[0], (typeof d.versions)[0]];
    expect(v1.files).toBe(N);
    expect(v1.stats.uploadedBlobs).toBe(N);
    expect(v1.stats.hashedFiles).toBe(N);
    expect(v2.files).toBe(N);
    expect(v2.stats.uploadedBlobs).toBe(1);
    expect(v2.stats.hashedFiles).toBe(1);
    expect(v2.stats.uploadedBytes).toBe(Buffer.byteLength(changed));

    // Exactly the distinct contents ever captured plus one manifest per distinct version content.
    const expected = new Set<string>([...contents.values()].map((c) => sha256(c)));
    expected.add(sha256(changed));
    expected.add(sha256(readFileSync(join(sb.cwd, 'touch_one.py')))); // workspace
    expected.add(sha256(readFileSync(join(sb.home, 'experiments', 'inc', 'output')))); // output (empty)
    for (const a of show.artifacts) for (const v of a.versions) expected.add(v.manifestSha256);
    const tags = show.artifacts.map((a) => a.tag).sort();
    expect(tags).toEqual(['data', 'output', 'workspace']);
    // Recorded = stored: loose blobs are files named by their hash, small ones live in packs (the store has no file of
    // their own), and each pack holds only what its capture uploaded.
    const recorded = recordedBlobs(sb.home);
    expect(recorded.length).toBe(N + 1 + 2 + 4);
    expect(new Set(recorded.map((r) => r.sha256))).toEqual(expected);
    const loose = storeBlobFiles(sb.home).map((f) => f.split('/').at(-1) as string);
    expect(new Set(loose)).toEqual(new Set(recorded.filter((r) => r.packId === null).map((r) => r.sha256)));
    const packs = storePackFiles(sb.home);
    const packBytes = packs.reduce((n, f) => n + statSync(f).size, 0);
    expect(packBytes).toBe(recorded.filter((r) => r.packId !== null).reduce((n, r) => n + r.size, 0));
  });
});
