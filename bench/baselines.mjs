// Baselines that studio-lite's capture and pull are measured against: the datasets, a plain `cp -r`, and Studio's
// own way of saving an artifact (tar.gz of the whole folder, then one PUT). Every measuring function returns elapsed
// seconds from process.hrtime.bigint(). Benches run with a warm page cache (see dropCaches).
import { spawn } from 'node:child_process';
import { randomFillSync } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, mkdtemp, open, rm, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Same threshold as the local blob store (functions/src/adapters/local/disk-blob-store.ts FSYNC_MIN_BYTES). */
const SINK_FSYNC_MIN_BYTES = 256 * 1024;

const seconds = (start) => Number(process.hrtime.bigint() - start) / 1e9;

/**
 * Dataset A: `totalBytes` (default 1 GiB) of incompressible data in `files` (default 16) files a.bin… One random
 * buffer (at most 64 MiB) is reused for speed; a per-file header makes every file's bytes, and so its sha256, differ.
 * gzip's 32 KiB window cannot see the repetition, so tar.gz gains nothing, as with real weights or images.
 */
export async function makeDatasetA(dir, { totalBytes = GiB, files = 16 } = {}) {
  const start = process.hrtime.bigint();
  await mkdir(dir, { recursive: true });
  const perFile = Math.floor(totalBytes / files);
  const buf = randomFillSync(Buffer.allocUnsafe(Math.min(64 * MiB, perFile)));
  for (let i = 0; i < files; i++) {
    const header = Buffer.from(`studio-lite bench dataset A, file ${i} of ${files}\n`);
    const fh = await open(join(dir, `file-${String(i).padStart(2, '0')}.bin`), 'w');
    try {
      let left = perFile;
      const head = header.subarray(0, left);
      await fh.write(head);
      left -= head.length;
      while (left > 0) {
        const { bytesWritten } = await fh.write(buf, 0, Math.min(left, buf.length));
        left -= bytesWritten;
      }
    } finally {
      await fh.close();
    }
  }
  return seconds(start);
}

/**
 * Dataset B: `files` (default 20,000) files of `fileSize` (default 4 KiB) spread over `folders` (default 100)
 * sub-folders d000…; random contents, each stamped with its index so no two are equal.
 */
export async function makeDatasetB(dir, { files = 20_000, fileSize = 4096, folders = 100 } = {}) {
  const start = process.hrtime.bigint();
  const names = [];
  for (let f = 0; f < folders; f++) {
    const sub = join(dir, `d${String(f).padStart(3, '0')}`);
    await mkdir(sub, { recursive: true });
    names.push(sub);
  }
  const all = randomFillSync(Buffer.allocUnsafe(files * fileSize));
  let next = 0;
  const worker = async () => {
    while (next < files) {
      const i = next++;
      const body = all.subarray(i * fileSize, (i + 1) * fileSize);
      body.write(`#${i}#`, 0, 'latin1');
      const fh = await open(join(names[i % folders], `f${String(i).padStart(5, '0')}.bin`), 'w');
      try {
        await fh.write(body);
      } finally {
        await fh.close();
      }
    }
  };
  await Promise.all(Array.from({ length: 16 }, worker));
  return seconds(start);
}

/** `cp -r src dst` (dst must not exist yet, so it becomes the copy). */
export async function cpR(src, dst) {
  const start = process.hrtime.bigint();
  await run('cp', ['-r', src, dst]);
  return seconds(start);
}

/**
 * Studio's save of a folder artifact: `tar czf` of the whole folder to a temp file, then one streaming PUT of it to
 * `putUrl`. Both steps are timed together; the temp file is removed afterwards, outside the measurement.
 */
export async function studioWay(src, putUrl) {
  const tmp = await mkdtemp(join(tmpdir(), 'studio-way-'));
  const tarball = join(tmp, 'artifact.tar.gz');
  try {
    const start = process.hrtime.bigint();
    await run('tar', ['czf', tarball, '-C', src, '.']);
    await put(putUrl, tarball);
    return seconds(start);
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

/**
 * A stand-in storage server on 127.0.0.1 (random port): each PUT is streamed to a temp file, fsynced when it is at
 * least 256 KiB like the local blob store does, then answered 200 `{"bytes": n}` and deleted to save disk.
 * `stats()` counts requests and bytes; `close()` stops it and removes its folder.
 */
export async function startSinkServer() {
  const dir = await mkdtemp(join(tmpdir(), 'sink-server-'));
  const totals = { requests: 0, bytes: 0 };
  let seq = 0;
  const server = http.createServer(async (req, res) => {
    if (req.method !== 'PUT') {
      res.writeHead(405, { allow: 'PUT' }).end();
      return;
    }
    const file = join(dir, `upload-${seq++}`);
    try {
      const fh = await open(file, 'w');
      let bytes = 0;
      try {
        for await (const chunk of req) {
          bytes += chunk.length;
          await fh.write(chunk);
        }
        if (bytes >= SINK_FSYNC_MIN_BYTES) await fh.datasync();
      } finally {
        await fh.close();
      }
      totals.requests++;
      totals.bytes += bytes;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ bytes }));
    } catch (err) {
      res.writeHead(500).end(String(err));
    } finally {
      await rm(file, { force: true });
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}/upload`,
    stats: () => ({ ...totals }),
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/**
 * Deliberately a no-op: dropping the page cache needs root and differs per OS (`echo 3 > /proc/sys/vm/drop_caches`
 * on Linux, `purge` on macOS), so every bench, baselines included, runs with a warm cache; the report says so.
 */
export async function dropCaches() {}

function run(cmd, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve();
      else reject(new Error(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`}): ${stderr.trim()}`));
    });
  });
}

async function put(url, file) {
  const { size } = await stat(file);
  const u = new URL(url);
  const client = u.protocol === 'https:' ? https : http;
  await new Promise((resolve, reject) => {
    const req = client.request(u, {
      method: 'PUT',
      headers: { 'content-type': 'application/gzip', 'content-length': size },
    });
    req.on('response', (res) => {
      res.resume();
      res.on('end', () => {
        if (res.statusCode >= 200 && res.statusCode < 300) resolve();
        else reject(new Error(`PUT ${u.origin}${u.pathname} answered ${res.statusCode}`));
      });
      res.on('error', reject);
    });
    req.on('error', reject);
    pipeline(createReadStream(file), req).catch(reject);
  });
}
