// `npm run bench` (part, after process-bench): `studio-lite push` as a user times it, whole processes (issue 16):
//   - the 20,000 x 4 KiB dataset (baselines.mjs, as in process-bench) is captured once into home A's embedded
//     backend (`run --capture-once`, not timed);
//   - a first capture of the same dataset by a CLI pointed at a served home (`studio-lite serve`, fresh home) with
//     STUDIOML_API_URL + STUDIOML_TOKEN: the baseline;
//   - `push --all --to <served home>` from A into another fresh served home, A's blob cache emptied first (the
//     download from A's store into the cache is part of the push); ratio push / first capture;
//   - the same push again (nothing to send): seconds and the requests it made to the target;
//   - the first push again into a third fresh home with A's blob cache full: the upload half alone.
// Every request to a served home goes through a counting proxy (its --public-url, so the signed uploads and downloads
// go through it too), for the capture and both pushes alike. Each figure is the median of BENCH_RUNS rounds
// (default 3); every timed step starts after `sync`. BENCH_SCALE scales the dataset (smoke runs).
// Usage: npm run build && node bench/push-bench.mjs
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeDatasetB } from './baselines.mjs';
import { bin, median, runs, samples, scale, scratch, startCountingProxy, timedAsync } from './process-helpers.mjs';

const { root, fresh } = scratch('sl-push-bench-');
const s = samples();
const requests = {};

const env = (home, extra = {}) => {
  const e = { ...process.env };
  for (const k of Object.keys(e)) if (k.startsWith('STUDIOML_')) delete e[k];
  return { ...e, STUDIOML_HOME: home, ...extra };
};
const sl = (home, args, cwd, extra) => timedAsync(process.execPath, [bin, ...args], { cwd, env: env(home, extra) });

/** `studio-lite serve` of a fresh home, reached through `proxy` (its public URL): `{ url, token, stop }`. */
async function serve(proxy) {
  const home = fresh('target');
  const child = spawn(process.execPath, [bin, 'serve', '--port', '0', '--public-url', proxy.url], {
    env: env(home),
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (d) => {
    err += d;
  });
  const listening = await new Promise((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/\S+)/);
      if (m) resolve(m[1]);
    });
    child.on('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)));
  });
  proxy.target(listening);
  const { token } = JSON.parse(readFileSync(join(home, 'credentials.json'), 'utf8'));
  return {
    url: proxy.url,
    token,
    stop: () =>
      new Promise((resolve) => {
        child.removeAllListeners('exit');
        child.once('exit', resolve);
        child.kill('SIGTERM');
      }),
  };
}

const files = Math.max(100, Math.round(20_000 * scale));
const data = join(root, 'small');
await makeDatasetB(data, { files, fileSize: 4096, folders: 100 });
const source = fresh('source');
await sl(source, ['run', '-q', '-e', 'dataset', `--capture-once=${data}:data`, '--', 'true'], fresh('cwd'));

const proxy = await startCountingProxy();
try {
  for (let i = 0; i < runs; i += 1) {
    // Baseline: a first capture of the dataset into a fresh served home, by a fresh client home.
    let target = await serve(proxy);
    try {
      const cap = await sl(
        fresh('client'),
        ['run', '-q', '-e', 'dataset', `--capture-once=${data}:data`, '--', 'true'],
        fresh('cwd'),
        { STUDIOML_API_URL: target.url, STUDIOML_TOKEN: target.token },
      );
      s.add('first capture', cap.seconds);
      const counted = proxy.reset();
      s.add('first capture requests', counted.total);
      requests[`round ${i + 1}`] = { 'first capture': counted.routes };
    } finally {
      await target.stop();
    }
    // The push into another fresh served home, A's blob cache empty; then the same push again.
    target = await serve(proxy);
    try {
      // Moved aside, not deleted: deleting 20,000 files just before a timed step slows it on this VM's ext4
      // (mounted with `discard`; see process-bench.mjs). Everything goes at the end.
      if (existsSync(join(source, 'blobcache'))) renameSync(join(source, 'blobcache'), join(fresh('old'), 'blobcache'));
      const auth = { STUDIOML_TOKEN: target.token };
      const args = ['push', '--all', '--to', target.url, '--json'];
      const first = await sl(source, args, fresh('cwd'), auth);
      const one = JSON.parse(first.stdout);
      if (one.versions < 1 || one.uploadedBlobs < files) throw new Error(`first push sent too little: ${first.stdout}`);
      s.add('push', first.seconds);
      const pushCounted = proxy.reset();
      s.add('push requests', pushCounted.total);
      requests[`round ${i + 1}`].push = pushCounted.routes;
      const again = await sl(source, args, fresh('cwd'), auth);
      const two = JSON.parse(again.stdout);
      if (two.versions !== 0 || two.uploadedBytes !== 0 || two.upToDate !== 1) {
        throw new Error(`second push was not up to date: ${again.stdout}`);
      }
      s.add('second push', again.seconds);
      const counted = proxy.reset();
      s.add('second push requests', counted.total);
      requests[`round ${i + 1}`]['second push'] = counted.routes;
    } finally {
      await target.stop();
    }
  }
} finally {
  await proxy.close();
}

const m = s.medians();
/** The median of the per-round ratios a / b (each round's two figures saw the same state of the machine). */
const paired = (a, b) => median(s.all[a].map((x, i) => x / s.all[b][i])).toFixed(2);
const f = (k) => m[k]?.toFixed(2);
console.log(
  `push bench (scale ${scale}, median of ${runs}; ${files} x 4 KiB in 100 folders, target: studio-lite serve)`,
);
console.log('| what | seconds | requests to the target | baseline | ratio of medians (median of paired ratios) |');
console.log('| --- | --- | --- | --- | --- |');
console.log(`| first capture, ${files} x 4 KiB | ${f('first capture')} | ${m['first capture requests']} | | |`);
console.log(
  `| push --all, cold blob cache | ${f('push')} | ${m['push requests']} | first capture | ${(m.push / m['first capture']).toFixed(2)}x (paired ${paired('push', 'first capture')}x) |`,
);
console.log(`| second push (up to date) | ${f('second push')} | ${m['second push requests']} | | |`);
for (const [what, routes] of Object.entries(Object.values(requests).at(-1))) {
  console.log(`${what}, requests by route (last round): ${JSON.stringify(routes)}`);
}
mkdirSync(fileURLToPath(new URL('../.tmp/', import.meta.url)), { recursive: true });
writeFileSync(
  fileURLToPath(new URL('../.tmp/push-bench.json', import.meta.url)),
  JSON.stringify(
    {
      scale,
      runs,
      files,
      medians: m,
      pairedRatios: { push: paired('push', 'first capture') },
      samples: s.all,
      requests,
    },
    null,
    2,
  ),
);
rmSync(root, { recursive: true, force: true });
