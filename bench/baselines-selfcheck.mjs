// Runs every baseline on small datasets, checks what it produced, and prints the figures.
// Usage: node bench/baselines-selfcheck.mjs   (exits 1 if a check fails)
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { cpR, dropCaches, makeDatasetA, makeDatasetB, startSinkServer, studioWay } from './baselines.mjs';

const MiB = 1024 * 1024;
const small = {
  A: { totalBytes: 20 * MiB, files: 16 },
  B: { files: 500, fileSize: 4096, folders: 100 },
};

/** {relative path: sha256} of every file under dir. */
async function digest(dir) {
  const out = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const file = join(e.parentPath ?? e.path, e.name);
    out[relative(dir, file)] = createHash('sha256')
      .update(await readFile(file))
      .digest('hex');
  }
  return out;
}

function check(ok, what) {
  if (!ok) throw new Error(`selfcheck failed: ${what}`);
}

const root = await mkdtemp(join(tmpdir(), 'baselines-selfcheck-'));
const sink = await startSinkServer();
const rows = [];
try {
  for (const [name, make, opts, bytes] of [
    ['A', makeDatasetA, small.A, small.A.totalBytes],
    ['B', makeDatasetB, small.B, small.B.files * small.B.fileSize],
  ]) {
    const src = join(root, `dataset-${name}`);
    const made = await make(src, opts);
    const files = await digest(src);
    const count = opts.files;
    check(Object.keys(files).length === count, `dataset ${name} has ${Object.keys(files).length} files, not ${count}`);
    check(new Set(Object.values(files)).size === count, `dataset ${name} has duplicate files`);

    await dropCaches();
    const cp = await cpR(src, join(root, `copy-${name}`));
    check(
      JSON.stringify(await digest(join(root, `copy-${name}`))) === JSON.stringify(files),
      `cp -r of ${name} differs`,
    );

    const before = sink.stats();
    const sw = await studioWay(src, sink.url);
    const after = sink.stats();
    const uploaded = after.bytes - before.bytes;
    check(after.requests === before.requests + 1, `studioWay(${name}) did not make exactly one PUT`);
    // Random data: gzip must not shrink it (so dataset A really is incompressible).
    check(uploaded >= bytes, `studioWay(${name}) uploaded ${uploaded} bytes for ${bytes} bytes of data`);

    const mb = bytes / MiB;
    rows.push({
      dataset: name,
      shape:
        name === 'A'
          ? `${mb} MiB in ${opts.files} files`
          : `${opts.files} x ${opts.fileSize} B in ${opts.folders} dirs`,
      'make s': made.toFixed(3),
      'cp -r s': cp.toFixed(3),
      'studioWay s': sw.toFixed(3),
      'tar.gz MiB': (uploaded / MiB).toFixed(2),
      'studioWay MiB/s': (mb / sw).toFixed(1),
    });
  }
} finally {
  await sink.close();
  await rm(root, { recursive: true, force: true });
}
console.table(rows);
console.log('baselines selfcheck: OK (warm page cache; dropCaches() is a no-op)');
