/** Concurrent commits to one mutable tag are serialised by the metadata transaction: versions 1..N, no gaps. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommitVersionResponse, GetVersionResponse, ShowExperimentResponse } from '../../src/contract/wire.ts';
import {
  commit,
  createExperiment,
  type Harness,
  manifestOf,
  route,
  sorted,
  startHarness,
  text,
  uniqueKey,
  uploadBlobs,
} from './helpers.ts';

const N = 20;
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('concurrent commits', () => {
  it(`${N} concurrent commits of different manifests to one mutable tag give versions 1..${N}`, async () => {
    const key = uniqueKey('conc');
    await createExperiment(h, key);
    const datas = Array.from({ length: N }, (_, i) => text(`checkpoint ${i}\n`));
    await uploadBlobs(h, key, 'ckpt', datas);
    const manifests = datas.map((d, i) =>
      manifestOf([
        { path: 'shared.txt', data: text('same\n') },
        { path: `ckpt-${i}`, data: d },
      ]),
    );
    await uploadBlobs(h, key, 'ckpt', [text('same\n')]);

    const results = await Promise.all(manifests.map((m) => commit(h, key, 'ckpt', m, true)));
    for (const r of results) expect(r.status, r.text).toBe(201);
    const versions = results.map((r) => (r.body as CommitVersionResponse).version.version);
    expect([...versions].sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    expect(new Set(results.map((r) => r.body.version.digest)).size).toBe(N);

    const show = await h.call<ShowExperimentResponse>('GET', route.experiment(key));
    const art = show.body.artifacts.find((a) => a.tag === 'ckpt');
    expect(art?.latestVersion).toBe(N);
    expect(art?.versions.map((v) => v.version)).toEqual(Array.from({ length: N }, (_, i) => i + 1));

    // Every version number holds exactly the manifest whose commit was answered with that number.
    await Promise.all(
      results.map(async (r, i) => {
        const got = await h.call<GetVersionResponse>('GET', route.version(key, 'ckpt', r.body.version.version));
        expect(got.body.version.manifest).toEqual(sorted(manifests[i] as (typeof manifests)[0]));
      }),
    );
  });

  it('concurrent commits of the same manifest create one version', async () => {
    const key = uniqueKey('conc-same');
    await createExperiment(h, key);
    const d = text('identical');
    await uploadBlobs(h, key, 'out', [d]);
    const m = manifestOf([{ path: 'f', data: d }]);
    const results = await Promise.all(Array.from({ length: 10 }, () => commit(h, key, 'out', m, true)));
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    expect(results.filter((r) => r.status === 200)).toHaveLength(9);
    expect(new Set(results.map((r) => r.body.version.version))).toEqual(new Set([1]));
  });

  it('concurrent creates of one key: exactly one wins, the rest get 409 E_EXPERIMENT_EXISTS', async () => {
    const key = uniqueKey('race');
    const results = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        h.call('POST', route.experiments(), { body: { key, command: [`run-${i}`] } }),
      ),
    );
    expect(results.filter((r) => r.status === 201)).toHaveLength(1);
    const losers = results.filter((r) => r.status !== 201);
    expect(losers).toHaveLength(9);
    for (const r of losers) expect((r.body as { error: { code: string } }).error.code).toBe('E_EXPERIMENT_EXISTS');
  });

  it('concurrent finishes: exactly one wins, the rest get 409 E_CONFLICT', async () => {
    const key = uniqueKey('finish-race');
    await createExperiment(h, key);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        h.call('POST', route.finish(key), { body: { status: 'finished', exitCode: i } }),
      ),
    );
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) {
      expect(r.status).toBe(409);
      expect((r.body as { error: { code: string } }).error.code).toBe('E_CONFLICT');
    }
  });
});

describe('two local hosts on one home', () => {
  it('interleaved commits through both give one gap-free version sequence', async () => {
    const { startLocalServer } = await import('../../src/hosts/local-server/server.ts');
    const second = await startLocalServer({ home: h.home });
    try {
      const key = uniqueKey('two-hosts');
      await createExperiment(h, key);
      const datas = Array.from({ length: N }, (_, i) => text(`two hosts ${i}\n`));
      await uploadBlobs(h, key, 'out', datas);
      const results = await Promise.all(
        datas.map(async (d, i) => {
          const res = await fetch(`${i % 2 ? second.url : h.url}${route.versions(key, 'out')}`, {
            method: 'POST',
            headers: { authorization: `Bearer ${h.token}`, 'content-type': 'application/json' },
            body: JSON.stringify({ mutable: true, manifest: manifestOf([{ path: 'f', data: d }]) }),
          });
          expect(res.status).toBe(201);
          return ((await res.json()) as CommitVersionResponse).version.version;
        }),
      );
      expect(results.sort((a, b) => a - b)).toEqual(Array.from({ length: N }, (_, i) => i + 1));
    } finally {
      await second.close();
    }
  });
});
