import { randomBytes } from 'node:crypto';
import { type DocumentReference, Firestore, type WriteBatch } from '@google-cloud/firestore';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createFirestoreMetadataStore } from '../../src/adapters/gcp/firestore-metadata-store.ts';
import { isStudioError } from '../../src/contract/errors.ts';
import { commit, expectCode, experiment, sha256, uid } from '../conformance/fixtures.ts';
import { testMetadataStore } from '../conformance/metadata-store-suite.ts';

const host = inject('firestoreHost');
// The SDK reads this when a client is built: emulator endpoint, no TLS, no credentials lookup.
process.env.FIRESTORE_EMULATOR_HOST = host;

const newProject = () => `demo-sl-${randomBytes(4).toString('hex')}`;
const client = (projectId: string) => new Firestore({ projectId, ignoreUndefinedProperties: true });

/** Drops every document of a project in the emulator (test data only). */
async function wipe(projectId: string): Promise<void> {
  await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE' });
}

/** A client whose write batches (one per commit attempt) are counted, and optionally altered through `wrapBatch`. */
function instrumented(db: Firestore, wrapBatch: (b: WriteBatch) => WriteBatch = (b) => b) {
  const counts = { batches: 0, getAllCalls: [] as number[] };
  const proxy = new Proxy(db, {
    get(target, prop) {
      if (prop === 'batch') {
        return () => {
          counts.batches++;
          return wrapBatch(target.batch());
        };
      }
      if (prop === 'getAll') {
        return (...refs: DocumentReference[]) => {
          counts.getAllCalls.push(refs.length);
          return target.getAll(...refs);
        };
      }
      const v = Reflect.get(target, prop, target);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  return { firestore: proxy, counts };
}

/** A WriteBatch proxy whose write methods go through `hook` (which may throw or add writes). */
function hookBatch(batch: WriteBatch, hook: (name: string, n: number) => void): WriteBatch {
  let n = 0;
  return new Proxy(batch, {
    get(target, prop) {
      const v = Reflect.get(target, prop, target);
      if (typeof v !== 'function') return v;
      if (prop === 'set' || prop === 'create' || prop === 'update' || prop === 'delete') {
        return (...args: unknown[]) => {
          hook(prop, ++n);
          (v as (...a: unknown[]) => unknown).apply(target, args);
          return target;
        };
      }
      return v.bind(target);
    },
  });
}

testMetadataStore({
  name: 'firestore (emulator)',
  async make() {
    const projectId = newProject();
    const clients = [client(projectId)];
    return {
      store: createFirestoreMetadataStore({ projectId, firestore: clients[0] as Firestore }),
      async another() {
        const c = client(projectId); // a second client = a second gRPC channel, like another function instance
        clients.push(c);
        return createFirestoreMetadataStore({ projectId, firestore: c });
      },
      async cleanup() {
        await Promise.all(clients.map((c) => c.terminate()));
        await wipe(projectId);
      },
    };
  },
});

describe('firestore metadata store: adapter specifics', () => {
  const projectId = newProject();
  const clients: Firestore[] = [];
  const open = () => {
    const c = client(projectId);
    clients.push(c);
    return c;
  };
  let team: string;

  beforeAll(() => {
    team = uid('team');
  });
  afterAll(async () => {
    await Promise.all(clients.map((c) => c.terminate()));
    await wipe(projectId);
  });

  it('20 concurrent commits from two clients to one tag: versions 1..20, contention really retried', async () => {
    const a = instrumented(open());
    const b = instrumented(open());
    const sa = createFirestoreMetadataStore({ projectId, firestore: a.firestore });
    const sb = createFirestoreMetadataStore({ projectId, firestore: b.firestore });
    await sa.createExperiment(experiment(team, 'race'));
    const n = 20;
    const results = await Promise.all(
      Array.from({ length: n }, (_, i) => (i % 2 ? sb : sa).commitVersion(commit(team, 'race', 'out', `c${i}`))),
    );
    expect(results.map((r) => r.version.version).sort((x, y) => x - y)).toEqual(
      Array.from({ length: n }, (_, i) => i + 1),
    );
    const listed = await sa.listVersions(team, 'race', 'out');
    expect(listed.map((v) => v.version)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(new Set(listed.map((v) => v.digest)).size).toBe(n);
    // More commit attempts than commits: racers lost their precondition, re-read and tried again.
    expect(a.counts.batches + b.counts.batches).toBeGreaterThan(n);
    expect(a.counts.batches).toBeGreaterThanOrEqual(n / 2);
    expect(b.counts.batches).toBeGreaterThanOrEqual(n / 2);
  }, 30_000);

  it('a commit that fails midway leaves no partial version and burns no number', async () => {
    const ok = createFirestoreMetadataStore({ projectId, firestore: open() });
    // Client side: the second write of each commit throws after the first one was queued.
    const broken = instrumented(open(), (b) =>
      hookBatch(b, (_name, n) => {
        if (n === 2) throw new Error('injected failure between the two writes');
      }),
    );
    const bad = createFirestoreMetadataStore({ projectId, firestore: broken.firestore });
    await ok.createExperiment(experiment(team, 'abort'));

    // A new artifact: neither the artifact doc nor version 1 may appear.
    const e1 = await expectCode(bad.commitVersion(commit(team, 'abort', 'fresh', 'x')), 'E_INTERNAL');
    expect((e1.cause as Error).message).toMatch(/injected/);
    expect(await ok.listArtifacts(team, 'abort')).toEqual([]);
    expect(await ok.listVersions(team, 'abort', 'fresh')).toEqual([]);

    // An existing artifact: latest stays 1, version 2 is not written, and the next real commit gets 2.
    const v1 = (await ok.commitVersion(commit(team, 'abort', 'out', 'a'))).version;
    await expectCode(bad.commitVersion(commit(team, 'abort', 'out', 'b')), 'E_INTERNAL');
    expect(await ok.listVersions(team, 'abort', 'out')).toEqual([v1]);
    expect(await ok.getVersion(team, 'abort', 'out')).toEqual(v1);
    expect((await ok.listArtifacts(team, 'abort'))[0]?.latestVersion).toBe(1);
    expect(broken.counts.batches).toBe(2); // a non-race failure is not retried

    // Server side: the emulator rejects the whole commit because of a third write (update of a missing document).
    const db = open();
    const rejected = createFirestoreMetadataStore({
      projectId,
      firestore: instrumented(db, (b) =>
        hookBatch(b, (_name, n) => {
          if (n === 2) b.update(db.doc(`scratch/${uid('missing')}`), { x: 1 });
        }),
      ).firestore,
    });
    const e2 = await expectCode(rejected.commitVersion(commit(team, 'abort', 'out', 'c')), 'E_INTERNAL');
    expect((e2.cause as { code?: number }).code).toBe(5); // NOT_FOUND, for the batch as a whole
    expect(await ok.listVersions(team, 'abort', 'out')).toEqual([v1]);
    expect((await ok.listArtifacts(team, 'abort'))[0]?.latestVersion).toBe(1);
    expect((await ok.commitVersion(commit(team, 'abort', 'out', 'b'))).version.version).toBe(2);
  }, 20_000);

  it('findBlobs with 1,500 hashes (half recorded, with repeats) uses chunked getAll', async () => {
    const inst = instrumented(open());
    const store = createFirestoreMetadataStore({ projectId, firestore: inst.firestore });
    const t = uid('team-blobs');
    const hashes = Array.from({ length: 1500 }, (_, i) => sha256(`fb ${i}`));
    const recorded = hashes
      .filter((_, i) => i % 2 === 0)
      .map((h, i) => ({ sha256: h, size: i, verified: i % 3 === 0 }));
    await store.putBlobs(t, recorded);
    const started = performance.now();
    const found = await store.findBlobs(t, [...hashes, ...hashes.slice(0, 100)]);
    const ms = performance.now() - started;
    expect(found.size).toBe(750);
    for (const r of recorded) expect(found.get(r.sha256)).toEqual(r);
    expect(found.has(hashes[1] as string)).toBe(false);
    expect(inst.counts.getAllCalls.length).toBeGreaterThanOrEqual(5);
    expect(Math.max(...inst.counts.getAllCalls)).toBeLessThanOrEqual(300);
    expect(ms).toBeLessThan(10_000);
  }, 30_000);

  it('putBlobs never downgrades verified, also inside one batch with repeats', async () => {
    const store = createFirestoreMetadataStore({ projectId, firestore: open() });
    const t = uid('team-dup');
    const h = sha256('dup');
    await store.putBlobs(t, [
      { sha256: h, size: 5, verified: true },
      { sha256: h, size: 5, verified: false },
    ]);
    expect((await store.findBlobs(t, [h])).get(h)?.verified).toBe(true);
  });

  it('ids that Firestore cannot store (or that would address another path) are refused or not found', async () => {
    const store = createFirestoreMetadataStore({ projectId, firestore: open() });
    await expectCode(store.createExperiment(experiment(team, 'x/artifacts/y')), 'E_BAD_REQUEST');
    await expectCode(store.createExperiment(experiment(team, '__x__')), 'E_BAD_REQUEST');
    await expectCode(store.commitVersion(commit(team, 'exp', 'a/b', 'x')), 'E_BAD_REQUEST');
    await expectCode(store.setMembership('t/members', 'u', 'admin'), 'E_BAD_REQUEST');
    expect(await store.getExperiment(team, 'a/b')).toBeNull();
    expect(await store.getVersion(team, '..', 'out')).toBeNull();
    expect(await store.listExperiments('a/b', {})).toEqual([]);
    expect((await store.findBlobs(team, ['a/b', ''])).size).toBe(0);
    await expectCode(store.updateExperiment(team, 'a/b', { status: 'running' }), 'E_NOT_FOUND');
  });

  it('a duplicate token hash is E_CONFLICT, never an overwrite', async () => {
    const store = createFirestoreMetadataStore({ projectId, firestore: open() });
    const hash = sha256(uid('secret'));
    const t = {
      id: uid('tok'),
      userId: 'u',
      hash,
      kind: 'personal' as const,
      scopes: ['*'],
      createdAt: 'x',
      expiresAt: null,
      revokedAt: null,
    };
    await store.putToken(t);
    await expectCode(store.putToken({ ...t, id: uid('tok2') }), 'E_CONFLICT');
    expect(await store.getTokenByHash(hash)).toEqual(t);
  });

  it('SDK errors are wrapped: transient -> E_UNAVAILABLE, others -> E_INTERNAL, always with cause', async () => {
    const failing = (err: unknown) =>
      new Proxy(open(), {
        get: (target, prop) => {
          if (prop === 'collection')
            return () => {
              throw err;
            };
          const v = Reflect.get(target, prop, target);
          return typeof v === 'function' ? v.bind(target) : v;
        },
      });
    const unavailable = Object.assign(new Error('14 UNAVAILABLE: No connection established'), { code: 14 });
    const denied = Object.assign(new Error('7 PERMISSION_DENIED: Missing or insufficient permissions'), { code: 7 });
    const e1 = await expectCode(
      createFirestoreMetadataStore({ projectId, firestore: failing(unavailable) }).getUser('u'),
      'E_UNAVAILABLE',
    );
    expect(e1.cause).toBe(unavailable);
    const e2 = await expectCode(
      createFirestoreMetadataStore({ projectId, firestore: failing(denied) }).listExperiments(team, {}),
      'E_INTERNAL',
    );
    expect(e2.cause).toBe(denied);
    expect(isStudioError(e2)).toBe(true);
    expect(e2.message).not.toMatch(/PERMISSION_DENIED/);
  });

  it('a store that owns its client (no injection) works and closes it', async () => {
    const store = createFirestoreMetadataStore({ projectId });
    const key = uid('own');
    await store.createExperiment(experiment(team, key));
    expect((await store.getExperiment(team, key))?.key).toBe(key);
    await store.close();
    await store.close(); // idempotent
  });
});
