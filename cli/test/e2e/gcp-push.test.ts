// `studio-lite push` from an embedded home to a team deployment on this machine: the bundled Cloud Function on the
// Firestore and Storage emulators, signed URLs through the verifying V4 gateway. Three experiments with reuse lineage
// (small files that travel in packs, a file over 256 KiB that travels alone, a symlink) arrive with every field `show`
// prints, pull back byte for byte on another machine, a second push sends nothing, and a viewer's push is refused
// before anything is stored.
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Storage } from '@google-cloud/storage';
import { describe, expect, it } from 'vitest';
import { mintMember } from '../../../functions/test/gcp/support/function-process.ts';
import { useGcpDeployment } from './gcp-harness.ts';
import {
  cli,
  cliEnv,
  cliOk,
  errorLine,
  listFiles,
  pullJson,
  type Sandbox,
  type ShowJson,
  sha256,
  showJson,
} from './helpers.ts';

const gcp = useGcpDeployment({}, (dep) =>
  console.info(`[gcp push e2e] deployment up: ${JSON.stringify(dep.timings)} ms`),
);

interface PushJson {
  from: string;
  to: string;
  experiments: number;
  versions: number;
  uploadedBlobs: number;
  uploadedBytes: number;
  presentBlobs: number;
  downloadedBytes: number;
  upToDate: number;
  skipped: { key: string; reason: string }[];
  results: { source: string; target: string; outcome: string; versions: number; uploadedBlobs: number }[];
}

/** `show --json` without what differs by design: the team each side names, and the target's push marker. */
function comparable(show: ShowJson): unknown {
  const strip = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(strip);
    if (v && typeof v === 'object') {
      return Object.fromEntries(
        Object.entries(v)
          .filter(([k]) => k !== 'team')
          .map(([k, x]) => [k, strip(x)]),
      );
    }
    return v;
  };
  const { push: _push, ...experiment } = show.experiment as ShowJson['experiment'] & { push?: unknown };
  return strip({ ...show, experiment });
}

describe('studio-lite push to the Cloud Function on the emulators', () => {
  /** An embedded home (no deployment configured): the machine that pushes. */
  const embedded = (): Sandbox => {
    const sb = gcp.remote();
    return { ...sb, env: cliEnv(sb.home) };
  };
  /** The same home and cwd with another token (for `push --to` or, on a remote, for the deployment). */
  const withToken = (sb: Sandbox, token: string): Sandbox => ({ ...sb, env: { ...sb.env, STUDIOML_TOKEN: token } });

  it('pushes 3 experiments with lineage, every field arrives, pulls are identical, a second push sends nothing', async () => {
    const dep = gcp.deployment();
    const editor = await mintMember(dep, { team: dep.team, userId: 'pusher', role: 'editor' });
    const viewer = await mintMember(dep, { team: dep.team, userId: 'looker', role: 'viewer' });

    // The embedded home: a dataset of small files (packed on the target) and one of 300 KB (a blob of its own).
    const local = embedded();
    const data = join(local.tmp(), 'data');
    mkdirSync(join(data, 'small'), { recursive: true });
    const small: Record<string, Buffer> = {};
    for (let i = 0; i < 40; i++) small[`small/s${String(i).padStart(2, '0')}.bin`] = randomBytes(1000 + i * 97);
    small['small/empty'] = Buffer.alloc(0);
    const big = randomBytes(300 * 1024);
    for (const [rel, buf] of Object.entries(small)) writeFileSync(join(data, rel), buf);
    writeFileSync(join(data, 'big.bin'), big);
    symlinkSync('big.bin', join(data, 'link-to-big'));
    await cliOk(local, [
      'run',
      '-q',
      '-e',
      'p-data',
      '--project',
      'push-e2e',
      `--capture-once=${data}:data`,
      '--',
      'true',
    ]);
    // p-train reuses the data; its mutable model gets a second version from a resumed attempt.
    mkdirSync(join(local.cwd, 'out'));
    const train = [
      "const fs = require('fs'); const d = process.env.STUDIOML_ARTIFACT_D;",
      "const n = fs.existsSync('out/model.bin') ? 2 : 1;",
      "fs.writeFileSync('out/model.bin', Buffer.concat([fs.readFileSync(d + '/big.bin'), Buffer.from('model ' + n)]));",
      "fs.writeFileSync('out/note.txt', 'round ' + n + '\\n');",
      "console.log('trained', n);",
    ].join('\n');
    const trainArgs = ['run', '-q', '-e', 'p-train', '--reuse=p-data/data:d', '-c', 'out:model', '--', 'node', '-e'];
    await cliOk(local, [...trainArgs, train]);
    await cliOk(local, [...trainArgs.slice(0, 2), '--resume', ...trainArgs.slice(2), train]);
    // p-eval reuses both and fails (exit 3): pushed as failed, with its output.
    const evaluate = [
      "const fs = require('fs');",
      "const m = fs.readFileSync(process.env.STUDIOML_ARTIFACT_M + '/model.bin');",
      "console.log('eval', m.length, fs.readdirSync(process.env.STUDIOML_ARTIFACT_D).length); process.exit(3);",
    ].join('\n');
    const ev = await cli(local, [
      'run',
      '-q',
      '-e',
      'p-eval',
      '--reuse=p-train/model:m',
      '--reuse=p-data/data:d',
      '--',
      'node',
      '-e',
      evaluate,
    ]);
    expect(ev.code, ev.stderr).toBe(3);
    const keys = ['p-data', 'p-train', 'p-eval'];
    const before = Object.fromEntries(await Promise.all(keys.map(async (k) => [k, await showJson(local, k)] as const)));
    expect(before['p-train']?.experiment.attempts).toHaveLength(2);
    expect(before['p-eval']?.experiment).toMatchObject({ status: 'failed', exitCode: 3 });

    // The push, with an editor's token of the team.
    const pusher = withToken(local, editor);
    const r = await cliOk(pusher, ['push', '--all', '--to', dep.url, '--json']);
    const pushed = JSON.parse(r.stdout) as PushJson;
    const totalVersions = keys.reduce(
      (n, k) => n + (before[k]?.artifacts.reduce((m, a) => m + a.versions.length, 0) ?? 0),
      0,
    );
    expect(pushed).toMatchObject({ experiments: 3, versions: totalVersions, upToDate: 0, skipped: [] });
    // Dependencies first.
    expect(pushed.results.map((x) => x.source)).toEqual(keys);
    expect(pushed.uploadedBytes).toBeGreaterThanOrEqual(2 * big.length);
    // Bytes come from the source into the blob cache unless the cache has them (the runs' reuse put some there).
    expect(pushed.downloadedBytes).toBeGreaterThan(0);
    expect(pushed.downloadedBytes).toBeLessThanOrEqual(pushed.uploadedBytes);

    // Every field of `show` is the same on the deployment (but the team's name and the push marker).
    const remote = withToken(gcp.remote(), editor);
    for (const k of keys) {
      const there = await showJson(remote, k);
      expect(comparable(there), k).toEqual(comparable(before[k] as ShowJson));
      expect((there.experiment as { push?: unknown }).push, k).toMatchObject({
        from: 'local',
        by: 'pusher',
        complete: true,
      });
    }
    // Small files travelled in a pack, the large one alone.
    const found = await dep.blobIndex.findBlobs(dep.team, [sha256(small['small/s00.bin'] as Buffer), sha256(big)]);
    expect(found.get(sha256(small['small/s00.bin'] as Buffer))?.pack).toBeDefined();
    expect(found.get(sha256(big))).toBeDefined();
    expect(found.get(sha256(big))?.pack).toBeUndefined();

    // Another machine of the team pulls every version from the deployment: the bytes of the embedded home's pulls.
    for (const k of keys) {
      for (const a of before[k]?.artifacts ?? []) {
        for (const v of a.versions) {
          const ref = `${k}/${a.tag}@${v.version}`;
          const mine = join(local.tmp(), 'pulled');
          const theirs = join(remote.tmp(), 'pulled');
          await pullJson(local, ref, mine);
          const got = await pullJson(remote, ref, theirs);
          expect(got.files, ref).toBe(v.files);
          const names = listFiles(mine);
          expect(listFiles(theirs), ref).toEqual(names);
          for (const n of names)
            expect(readFileSync(join(theirs, n)).equals(readFileSync(join(mine, n))), n).toBe(true);
        }
      }
    }
    const pulledData = join(remote.tmp(), 'data');
    await pullJson(remote, 'p-data/data', pulledData);
    for (const [rel, buf] of Object.entries(small)) expect(readFileSync(join(pulledData, rel)).equals(buf)).toBe(true);
    expect(readFileSync(join(pulledData, 'big.bin')).equals(big)).toBe(true);
    expect(readlinkSync(join(pulledData, 'link-to-big'))).toBe('big.bin');

    // Again: nothing travels, nothing is created.
    const again = JSON.parse((await cliOk(pusher, ['push', '--all', '--to', dep.url, '--json'])).stdout) as PushJson;
    expect(again).toMatchObject({
      experiments: 0,
      versions: 0,
      uploadedBlobs: 0,
      uploadedBytes: 0,
      downloadedBytes: 0,
      upToDate: 3,
    });

    // A viewer of the team cannot push: refused, and nothing of the new experiment is stored.
    const extra = join(local.tmp(), 'extra');
    mkdirSync(extra);
    const extraBig = randomBytes(280 * 1024);
    const extraSmall = randomBytes(2000);
    writeFileSync(join(extra, 'big.bin'), extraBig);
    writeFileSync(join(extra, 'small.bin'), extraSmall);
    await cliOk(local, ['run', '-q', '-e', 'p-extra', `--capture-once=${extra}:x`, '--', 'true']);
    const bucket = new Storage({ apiEndpoint: process.env.STORAGE_EMULATOR_HOST, projectId: 'demo-e2e' }).bucket(
      dep.bucket,
    );
    const objects = async () => (await bucket.getFiles())[0].map((f) => f.name).sort();
    const stored = await objects();
    const refused = await cli(withToken(local, viewer), ['push', 'p-extra', '--to', dep.url, '--json']);
    expect(refused.code, refused.stdout + refused.stderr).not.toBe(0);
    expect(errorLine(refused.stderr).code).toBe('E_FORBIDDEN');
    const missing = await cli(remote, ['show', 'p-extra', '--json']);
    expect(missing.code).not.toBe(0);
    expect(errorLine(missing.stderr).code).toBe('E_NOT_FOUND');
    expect(await dep.blobIndex.findBlobs(dep.team, [sha256(extraBig), sha256(extraSmall)])).toEqual(new Map());
    expect(await objects()).toEqual(stored);
  }, 240_000);
});
