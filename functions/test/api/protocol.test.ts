/**
 * The happy path of the v1 protocol over real HTTP: experiment -> upload plan (packs / single uploads) -> signed PUTs
 * -> commit versions -> read versions -> signed GETs -> finish -> list/show, plus reuse lineage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CaptureStats } from '../../src/contract/model.ts';
import type {
  CommitVersionResponse,
  CreateExperimentResponse,
  DownloadResponse,
  ErrorBody,
  GetVersionResponse,
  ListExperimentsResponse,
  PlanUploadResponse,
  ShowExperimentResponse,
  WhoAmIResponse,
} from '../../src/contract/wire.ts';
import {
  blobKeyOf,
  bytes,
  commit,
  createExperiment,
  downloadRequest,
  expectError,
  type FileSpec,
  type Harness,
  manifestOf,
  packBody,
  packKeyOf,
  publish,
  registerPack,
  route,
  send,
  sha256,
  sleep,
  sorted,
  startHarness,
  TEAM,
  text,
  uniqueKey,
} from './helpers.ts';

const KiB = 1024;

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('whoami', () => {
  it('names the local admin and its team', async () => {
    const res = await h.call<WhoAmIResponse>('GET', route.whoami());
    expect(res.status).toBe(200);
    expect(res.body.team).toBe(TEAM);
    expect(res.body.principal.userId).toBe('local');
    expect(res.body.principal.teams).toEqual({ [TEAM]: 'admin' });
  });
});

describe('upload, commit, download, finish, list, show', () => {
  const key = uniqueKey('happy');
  const tag = 'model';
  const small1 = text('weights v1\n');
  const small2 = bytes(10 * KiB, 2);
  const empty = new Uint8Array(0);
  const atLimit = bytes(256 * KiB, 3); // exactly the pack limit: still packed
  const big = bytes(256 * KiB + 1, 4); // one byte over: its own upload
  const bigger = bytes(700 * KiB, 5);
  const v1Files: FileSpec[] = [
    { path: 'weights.txt', data: small1 },
    { path: 'dir/a.bin', data: small2, mode: 0o755 },
    { path: 'dir/empty', data: empty },
    { path: 'dir/sub/limit.bin', data: atLimit },
    { path: 'big.bin', data: big },
    { path: 'bigger.bin', data: bigger },
  ];
  const v1 = manifestOf(v1Files, [{ path: 'link-to-weights', target: 'weights.txt' }]);
  const changed = text('weights v2\n');
  const v2Files: FileSpec[] = v1Files.map((f) => (f.path === 'weights.txt' ? { ...f, data: changed } : f));
  const v2 = manifestOf(v2Files, [{ path: 'link-to-weights', target: 'weights.txt' }]);
  const stats1: CaptureStats = {
    hashedFiles: 6,
    hashedBytes: v1.files.reduce((n, f) => n + f.size, 0),
    uploadedBlobs: 6,
    uploadedBytes: 123,
    skipped: ['dir/unreadable: EACCES'],
  };
  let plan: PlanUploadResponse;

  it('creates the experiment as running', async () => {
    const r = await createExperiment(h, key, {
      project: 'proj-happy',
      command: ['python', 'train.py', '--lr', '0.1'],
      cwd: '/home/u/x',
      host: 'host-1',
      git: { commit: 'a'.repeat(40), url: null, dirty: true },
    });
    expect(r.resumed).toBe(false);
    expect(r.lineage).toEqual([]);
    expect(r.experiment).toMatchObject({
      team: TEAM,
      key,
      project: 'proj-happy',
      owner: 'local',
      status: 'running',
      command: ['python', 'train.py', '--lr', '0.1'],
      git: { commit: 'a'.repeat(40), url: null, dirty: true },
      finishedAt: null,
      exitCode: null,
    });
  });

  it('plans packs for blobs up to 256 KiB and single uploads above', async () => {
    const res = await h.call<PlanUploadResponse>('POST', route.uploads(key, tag), {
      body: { blobs: v1.files.map((f) => ({ sha256: f.sha256, size: f.size })) },
    });
    expect(res.status, res.text).toBe(200);
    plan = res.body;
    // The empty file's blob is stored by the API itself (core/artifacts.ts storeEmptyBlob): present, never signed.
    expect(plan.present).toBe(1);
    expect(plan.uploads.map((u) => u.sha256).sort()).toEqual([sha256(big), sha256(bigger)].sort());
    for (const u of plan.uploads) {
      expect(u.request.method).toBe('PUT');
      expect(u.size).toBe(u.sha256 === sha256(big) ? big.length : bigger.length);
      expect(Date.parse(u.request.expiresAt)).toBeGreaterThan(Date.now());
    }
    const packed = plan.packs.flatMap((p) => p.members.map((m) => m.sha256)).sort();
    expect(packed).toEqual([small1, small2, atLimit].map((d) => sha256(d)).sort());
    expect(packed).not.toContain(sha256(empty));
    for (const p of plan.packs) expect(p.request.method).toBe('PUT');
  });

  it('stores the bytes sent through the signed requests, under server-built keys', async () => {
    const byHash = new Map(v1Files.map((f) => [sha256(f.data), f.data]));
    for (const u of plan.uploads) {
      const res = await send(u.request, byHash.get(u.sha256));
      expect(res.status, await res.clone().text()).toBe(201);
    }
    for (const p of plan.packs) {
      const res = await send(p.request, packBody(p, byHash));
      expect(res.status, await res.clone().text()).toBe(201);
    }
    // Uploaded but not registered: packed members are not present for a commit yet.
    const early = await commit(h, key, tag, v1, true, { stats: stats1 });
    expectError(early, 409, 'E_BLOB_MISSING');
    const packed = plan.packs.flatMap((p) => p.members.map((m) => m.sha256));
    expect(
      [...(((early.body as unknown as ErrorBody).error.details?.missing as string[] | undefined) ?? [])].sort(),
    ).toEqual([...packed].sort());
    for (const p of plan.packs) {
      const reg = await registerPack(h, key, tag, p);
      expect(reg.status, reg.text).toBe(200);
      expect(reg.body).toEqual({ id: p.id, members: p.members.length });
    }
    const snap = await h.snapshot();
    const { readFile } = await import('node:fs/promises');
    for (const [sha, data] of byHash) {
      const stored = snap.db.blobs.find((b) => (b as { sha256: string }).sha256 === sha) as
        | { size: number; pack_id: string | null; pack_offset: number | null }
        | undefined;
      expect(stored?.size).toBe(data.length);
      const pack = plan.packs.find((p) => p.members.some((m) => m.sha256 === sha));
      if (!pack) {
        // Over 256 KiB (or the empty blob the API stored itself): an object of its own.
        expect(snap.files).toContain(blobKeyOf(TEAM, sha).slice('teams/'.length));
        expect(stored?.pack_id ?? null).toBeNull();
        continue;
      }
      // Small: inside its pack (one object per pack), at the offset its record names; no object of its own.
      expect(snap.files).not.toContain(blobKeyOf(TEAM, sha).slice('teams/'.length));
      expect(snap.files).toContain(packKeyOf(TEAM, pack.id).slice('teams/'.length));
      const i = pack.members.findIndex((m) => m.sha256 === sha);
      const offset = pack.members.slice(0, i).reduce((n, m) => n + m.size, 0);
      expect([stored?.pack_id, stored?.pack_offset]).toEqual([pack.id, offset]);
      const whole = await readFile(h.fileOfKey(packKeyOf(TEAM, pack.id)));
      expect(whole.length).toBe(pack.members.reduce((n, m) => n + m.size, 0));
      expect(whole.subarray(offset, offset + data.length).equals(Buffer.from(data))).toBe(true);
    }
    expect(snap.tmp).toEqual([]);
    // A second plan for the same blobs finds them all present.
    const again = await h.call<PlanUploadResponse>('POST', route.uploads(key, tag), {
      body: { blobs: v1.files.map((f) => ({ sha256: f.sha256, size: f.size })) },
    });
    expect(again.body).toEqual({ uploads: [], packs: [], present: 6 });
  });

  let version1: CommitVersionResponse['version'];
  it('commits version 1', async () => {
    const res = await commit(h, key, tag, v1, true, { stats: stats1 });
    expect(res.status, res.text).toBe(201);
    expect(res.body.created).toBe(true);
    version1 = res.body.version;
    expect(version1).toMatchObject({
      team: TEAM,
      experiment: key,
      tag,
      version: 1,
      files: 6,
      bytes: stats1.hashedBytes,
      stats: stats1,
      createdBy: 'local',
    });
  });

  it('an unchanged manifest (only mtimes differ) returns created:false and no new version', async () => {
    const touched = { ...v1, files: v1.files.map((f) => ({ ...f, mtime: f.mtime + 5000 })) };
    const res = await commit(h, key, tag, touched, true);
    expect(res.status, res.text).toBe(200);
    expect(res.body.created).toBe(false);
    expect(res.body.version).toEqual(version1);
    const show = await h.call<ShowExperimentResponse>('GET', route.experiment(key));
    expect(show.body.artifacts[0]?.versions.map((v) => v.version)).toEqual([1]);
  });

  it('a changed manifest gives version 2', async () => {
    await publish(h, key, 'scratch', [{ path: 'x', data: changed }]); // uploads the new blob (team-wide)
    const res = await commit(h, key, tag, v2, true);
    expect(res.status, res.text).toBe(201);
    expect(res.body.created).toBe(true);
    expect(res.body.version.version).toBe(2);
    expect(res.body.version.digest).not.toBe(version1.digest);
  });

  it('reads latest, 1 and 2 with their manifests', async () => {
    const latest = await h.call<GetVersionResponse>('GET', route.version(key, tag, 'latest'));
    const one = await h.call<GetVersionResponse>('GET', route.version(key, tag, 1));
    const two = await h.call<GetVersionResponse>('GET', route.version(key, tag, 2));
    for (const r of [latest, one, two]) expect(r.status, r.text).toBe(200);
    expect(latest.body.version.version).toBe(2);
    expect(one.body.version.version).toBe(1);
    expect(one.body.version.manifest).toEqual(sorted(v1));
    expect(two.body.version.manifest).toEqual(sorted(v2));
    expect(latest.body.version).toEqual(two.body.version);
    expect(one.body.version.stats).toEqual(stats1);
  });

  it('signs downloads whose GET returns the exact bytes', async () => {
    for (const [v, files] of [
      [1, v1Files],
      [2, v2Files],
    ] as const) {
      const res = await h.call<DownloadResponse>('POST', route.downloads(key, tag, v), {
        body: { sha256s: files.map((f) => sha256(f.data)) },
      });
      expect(res.status, res.text).toBe(200);
      // Over 256 KiB (and the empty blob): a GET each; the others: one GET per pack, sent with a Range per member.
      const loose = [big, bigger, empty].map((d) => sha256(d));
      expect(res.body.blobs.map((b) => b.sha256).sort()).toEqual([...loose].sort());
      const inPacks = (res.body.packs ?? []).flatMap((p) => p.members.map((m) => m.sha256));
      expect([...inPacks, ...loose].sort()).toEqual(files.map((f) => sha256(f.data)).sort());
      for (const p of res.body.packs ?? []) {
        expect(p.request.method).toBe('GET');
        expect(new URL(p.request.url).pathname).toBe(`/storage/${packKeyOf(TEAM, p.id)}`);
      }
      for (const f of files) {
        const sha = sha256(f.data);
        // Each file signed alone: a pack GET is signed for exactly the members asked for.
        const alone = await h.call<DownloadResponse>('POST', route.downloads(key, tag, v), {
          body: { sha256s: [sha] },
        });
        const req = downloadRequest(alone.body, sha);
        expect(req.method).toBe('GET');
        const got = await send(req);
        const ranged = inPacks.includes(sha);
        expect(got.status).toBe(ranged ? 206 : 200);
        if (ranged) {
          const m = res.body.packs?.flatMap((p) => p.members).find((x) => x.sha256 === sha);
          expect(m?.size).toBe(f.data.length);
          expect(got.headers.get('content-range')).toMatch(
            new RegExp(`^bytes ${m?.offset}-${(m?.offset ?? 0) + f.data.length - 1}/\\d+$`),
          );
        }
        const data = new Uint8Array(await got.arrayBuffer());
        expect(sha256(data)).toBe(sha);
        expect(Buffer.compare(Buffer.from(data), Buffer.from(f.data))).toBe(0);
      }
    }
  });

  it('finishes the experiment', async () => {
    const res = await h.call<{ experiment: CreateExperimentResponse['experiment'] }>('POST', route.finish(key), {
      body: { status: 'finished', exitCode: 0, warnings: ['model: dir/unreadable: EACCES'] },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.experiment).toMatchObject({ key, status: 'finished', exitCode: 0, signal: null });
    expect(res.body.experiment.warnings).toEqual(['model: dir/unreadable: EACCES']);
    expect(Date.parse(res.body.experiment.finishedAt ?? '')).not.toBeNaN();
  });

  it('shows the experiment with its artifacts, versions and stats', async () => {
    const res = await h.call<ShowExperimentResponse>('GET', route.experiment(key));
    expect(res.status, res.text).toBe(200);
    expect(res.body.experiment).toMatchObject({ key, status: 'finished', project: 'proj-happy', exitCode: 0 });
    const model = res.body.artifacts.find((a) => a.tag === tag);
    expect(model).toMatchObject({ tag, mutable: true, latestVersion: 2 });
    expect(model?.versions.map((v) => v.version)).toEqual([1, 2]);
    expect(model?.versions[0]?.stats).toEqual(stats1);
    expect(model?.versions[1]?.files).toBe(6);
    expect(res.body.artifacts.map((a) => a.tag).sort()).toEqual(['model', 'scratch']);
  });
});

describe('list', () => {
  it('filters by project and lists newest first, with artifact summaries', async () => {
    const project = uniqueKey('proj');
    // Keys in reverse alphabetical order of creation, so "newest first" cannot pass by sorting on the key.
    const keys = [`z-${uniqueKey()}`, `m-${uniqueKey()}`, `a-${uniqueKey()}`];
    for (const k of keys) {
      await createExperiment(h, k, { project });
      await sleep(5);
    }
    await createExperiment(h, uniqueKey('other-project'), { project: uniqueKey('proj') });
    await publish(h, keys[1] as string, 'data', [{ path: 'f', data: text('list me') }], false);

    const res = await h.call<ListExperimentsResponse>('GET', `${route.experiments()}?project=${project}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.experiments.map((e) => e.key)).toEqual([...keys].reverse());
    expect(res.body.experiments.every((e) => e.project === project)).toBe(true);
    expect(res.body.experiments[1]?.artifacts).toEqual([{ tag: 'data', mutable: false, latestVersion: 1 }]);
    expect(res.body.experiments[0]?.artifacts).toEqual([]);

    const limited = await h.call<ListExperimentsResponse>('GET', `${route.experiments()}?project=${project}&limit=2`);
    expect(limited.body.experiments.map((e) => e.key)).toEqual([keys[2], keys[1]]);

    const all = await h.call<ListExperimentsResponse>('GET', route.experiments());
    expect(all.body.experiments.length).toBeGreaterThan(keys.length);
    expect(all.body.experiments[0]?.key).not.toBe(keys[0]);
  });
});

describe('reuse lineage', () => {
  it('resolves latest to a fixed version and records it; later source versions do not change the record', async () => {
    const src = uniqueKey('src');
    await createExperiment(h, src);
    await publish(h, src, 'data', [{ path: 'd.csv', data: text('1,2\n') }]);
    await publish(h, src, 'data', [{ path: 'd.csv', data: text('1,2\n3,4\n') }]);

    const consumer = uniqueKey('consumer');
    const created = await createExperiment(h, consumer, {
      reuse: [
        { experiment: src, tag: 'data', as: 'latest_data' },
        { experiment: src, tag: 'data', version: 1, as: 'first_data' },
      ],
    });
    const expected = [
      { as: 'latest_data', experiment: src, tag: 'data', version: 2 },
      { as: 'first_data', experiment: src, tag: 'data', version: 1 },
    ];
    expect(created.lineage).toEqual(expected);
    expect(created.experiment.lineage).toEqual(expected);

    // The source moves on to version 3; the consumer's record still says 2.
    const v3 = await publish(h, src, 'data', [{ path: 'd.csv', data: text('1,2\n3,4\n5,6\n') }]);
    expect(v3.version.version).toBe(3);
    const show = await h.call<ShowExperimentResponse>('GET', route.experiment(consumer));
    expect(show.body.experiment.lineage).toEqual(expected);
    const list = await h.call<ListExperimentsResponse>('GET', route.experiments());
    expect(list.body.experiments.find((e) => e.key === consumer)?.lineage).toEqual(expected);
  });

  it('resume keeps the earlier lineage and appends the new resolution', async () => {
    const src = uniqueKey('src');
    await createExperiment(h, src);
    await publish(h, src, 'data', [{ path: 'a', data: text('a') }]);
    const key = uniqueKey('resumer');
    await createExperiment(h, key, { reuse: [{ experiment: src, tag: 'data', as: 'in' }] });
    await publish(h, src, 'data', [{ path: 'a', data: text('b') }]);
    // Only an experiment that ended (or was lost) can be resumed.
    expect((await h.call('POST', route.finish(key), { body: { status: 'failed', exitCode: 1 } })).status).toBe(200);
    const res = await h.call<CreateExperimentResponse>('POST', route.experiments(), {
      body: { key, resume: true, reuse: [{ experiment: src, tag: 'data', as: 'in' }] },
    });
    expect(res.status, res.text).toBe(200);
    expect(res.body.resumed).toBe(true);
    expect(res.body.lineage).toEqual([{ as: 'in', experiment: src, tag: 'data', version: 2 }]);
    expect(res.body.experiment.lineage.map((l) => l.version)).toEqual([1, 2]);
  });
});

describe('immutable artifacts', () => {
  it('accept one version; the same content again is created:false', async () => {
    const key = uniqueKey('imm');
    await createExperiment(h, key);
    const files = [{ path: 'src/main.py', data: text('print(1)\n') }];
    const first = await publish(h, key, 'workspace', files, false);
    expect(first.created).toBe(true);
    const again = await commit(h, key, 'workspace', manifestOf(files), false);
    expect(again.status).toBe(200);
    expect(again.body).toEqual({ version: first.version, created: false });
  });
});
