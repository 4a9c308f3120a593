// A capture whose plan called a blob stored, while a GC run deletes it before the commit: the commit gets
// E_BLOB_MISSING and the Capturer plans again, uploads the blob and commits. Real embedded backend, real files.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ApiClient } from '../../src/api-client.ts';
import { Capturer } from '../../src/artifacts/capture-artifact.ts';
import { fetchArtifact } from '../../src/artifacts/fetch-artifact.ts';
import { loadConfig } from '../../src/config.ts';
import { connect } from '../../src/connect.ts';
import { createLogger } from '../../src/logger.ts';

const dirs: string[] = [];
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'sl-gc-race-'));
  dirs.push(d);
  return d;
};
const previous = process.env.STUDIOML_GC_MIN_GRACE_SECONDS;
beforeAll(() => {
  process.env.STUDIOML_GC_MIN_GRACE_SECONDS = '0';
});
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  if (previous === undefined) delete process.env.STUDIOML_GC_MIN_GRACE_SECONDS;
  else process.env.STUDIOML_GC_MIN_GRACE_SECONDS = previous;
});

const log = createLogger({ quiet: true });
const sleepUntil = (t: number) => new Promise((r) => setTimeout(r, Math.max(0, t - Date.now())));

describe('Capturer and blob GC', () => {
  it('re-plans and uploads when a GC run deletes a planned-as-stored blob before the commit', async () => {
    const home = tmp();
    const data = tmp();
    writeFileSync(join(data, 'weights.bin'), Buffer.alloc(200_000, 7));
    writeFileSync(join(data, 'notes.txt'), 'kept\n');
    const cfg = { ...(await loadConfig(undefined, { STUDIOML_HOME: home })), home };
    const conn = await connect(cfg);
    try {
      const { client } = conn;
      // An experiment captures the folder, is deleted, and a first GC run condemns its blobs.
      await client.createExperiment({ key: 'old' });
      const first = new Capturer(client, 'old', cfg, log, []);
      await first.capture({ tag: 'w', path: data, mutable: true, useIgnoreFile: false });
      first.close();
      await client.deleteExperiment('old', true);
      const condemn = (await client.collectGarbage({ graceSeconds: 1 })).gc;
      expect(condemn.condemned.blobs).toBe(3); // two files and the manifest
      await sleepUntil(Date.parse(condemn.startedAt) + 1100);

      // A new capture of the same folder: its plan finds the blobs stored (condemned, still verified). Just before
      // its first commit, a second GC run deletes them.
      let commits = 0;
      let deleted = -1;
      const racing = new Proxy(client, {
        get(target, prop, receiver) {
          if (prop === 'commitVersion') {
            return async (...args: Parameters<ApiClient['commitVersion']>) => {
              commits += 1;
              if (commits === 1) deleted = (await target.collectGarbage({ graceSeconds: 1 })).gc.deleted.blobs;
              return target.commitVersion(...args);
            };
          }
          return Reflect.get(target, prop, receiver);
        },
      });
      await client.createExperiment({ key: 'new' });
      const cap = new Capturer(racing, 'new', cfg, log, []);
      const out = await cap.capture({ tag: 'w', path: data, mutable: true, useIgnoreFile: false });
      cap.close();
      expect(deleted).toBe(3);
      expect(commits).toBe(2);
      expect(out.created).toBe(true);
      expect(out.stats.uploadedBlobs).toBe(2);

      // Every byte is back: a pull into another folder with an empty cache.
      rmSync(join(home, 'blobcache'), { recursive: true, force: true });
      const dest = join(tmp(), 'pulled');
      await fetchArtifact(client, cfg, { experiment: 'new', tag: 'w' }, dest, { mode: 'copy', log });
      expect((await import('node:fs')).readFileSync(join(dest, 'notes.txt'), 'utf8')).toBe('kept\n');
    } finally {
      await conn.close();
    }
  });
});
