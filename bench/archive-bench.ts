/**
 * `npm run bench:archive`: the web UI's `.tar.gz` download of a version (the host streams blobs through tar-stream +
 * gzip level 6) against `tar czf` of the pulled folder, in the same run on the same disk. Dataset A (1 GiB of
 * incompressible data in 16 files; BENCH_SCALE scales it) is captured once, pulled once, then the two take turns,
 * 3 rounds; the ratio is the median of the paired ratios. Both outputs go to a byte counter / /dev/null.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Capturer } from '../cli/src/artifacts/capture-artifact.ts';
import { fetchArtifact } from '../cli/src/artifacts/fetch-artifact.ts';
import { loadConfig } from '../cli/src/config.ts';
import { connect } from '../cli/src/connect.ts';
import { createLogger } from '../cli/src/logger.ts';
// @ts-expect-error plain ESM helper without types
import { makeDatasetA } from './baselines.mjs';

const scale = Number(process.env.BENCH_SCALE ?? 1);
const totalBytes = Math.round(scale * 1024 ** 3);
const log = createLogger({ quiet: true });
const now = () => performance.now() / 1000;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

async function main() {
  const work = await mkdtemp(join(tmpdir(), 'sl-archive-bench-'));
  const home = join(work, 'home');
  const data = join(work, 'data');
  const pulled = join(work, 'pulled');
  await makeDatasetA(data, { totalBytes });
  const cfg = { ...(await loadConfig(undefined, { STUDIOML_HOME: home })), home };
  const conn = await connect(cfg);
  const out: Record<string, number | number[]> = { bytes: totalBytes };
  try {
    await conn.client.createExperiment({ key: 'ds' });
    const cap = new Capturer(conn.client, 'ds', cfg, log, []);
    await cap.capture({ tag: 'data', path: data, mutable: false, useIgnoreFile: false });
    cap.close();
    await mkdir(pulled);
    await fetchArtifact(conn.client, cfg, { experiment: 'ds', tag: 'data', version: 1 }, pulled, { mode: 'copy', log });
    const archive: number[] = [];
    const tarCzf: number[] = [];
    const ratios: number[] = [];
    for (let round = 0; round < 3; round++) {
      const { url } = await conn.client.archiveLink('ds', 'data', 1);
      let t0 = now();
      const res = await fetch(url);
      let got = 0;
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) got += chunk.length;
      const a = now() - t0;
      if (got < totalBytes) throw new Error(`archive has ${got} bytes, less than the data`);
      t0 = now();
      execFileSync('sh', ['-c', 'tar czf - -C "$0" . > /dev/null', pulled]);
      const b = now() - t0;
      archive.push(a);
      tarCzf.push(b);
      ratios.push(a / b);
    }
    out.archiveSeconds = archive;
    out.tarCzfSeconds = tarCzf;
    out.archiveMiBps = Math.round(totalBytes / 2 ** 20 / median(archive));
    out.tarCzfMiBps = Math.round(totalBytes / 2 ** 20 / median(tarCzf));
    out.medianRatio = Math.round(median(ratios) * 100) / 100;
  } finally {
    await conn.close();
    await rm(work, { recursive: true, force: true });
  }
  console.log(JSON.stringify(out));
  await mkdir('.tmp', { recursive: true });
  await writeFile('.tmp/archive-bench.json', `${JSON.stringify(out, null, 2)}\n`);
}

await main();
