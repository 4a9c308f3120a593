// Resumable uploads end to end on the emulators: core planUpload with the real GCS adapter (signed URLs through the
// verifying gateway) offers a session start for blobs >= 32 MiB only; the CLI's uploadBlobs sends a 33 MiB file
// through it, is interrupted (an aborted first call, as Ctrl-C), a second call resumes the remembered session, and
// the stored object hashes right and commits (the backend re-hashes it from storage).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RESUMABLE_CHUNK_BYTES } from '../../../cli/src/transfer/resumable.ts';
import { uploadBlobs } from '../../../cli/src/transfer/upload.ts';
import { createFirestoreMetadataStore } from '../../src/adapters/gcp/firestore-metadata-store.ts';
import { createGcsBlobStore, type GcsBlobStore } from '../../src/adapters/gcp/gcs-blob-store.ts';
import { StudioError } from '../../src/contract/errors.ts';
import type { Principal } from '../../src/contract/model.ts';
import { createExperimentBody } from '../../src/contract/schemas.ts';
import { commitVersion, planUpload, RESUMABLE_MIN_BYTES } from '../../src/core/artifacts.ts';
import type { CoreDeps } from '../../src/core/context.ts';
import { createExperiment } from '../../src/core/experiments.ts';
import { blobKey, sha256, uid } from '../conformance/fixtures.ts';
import { makeServiceAccount } from './support/service-account.ts';
import { type StorageGateway, startStorageGateway } from './support/storage-gateway.ts';

const storageHost = inject('storageHost');
const firestoreHost = inject('firestoreHost');
process.env.STORAGE_EMULATOR_HOST = storageHost;
process.env.FIRESTORE_EMULATOR_HOST = firestoreHost;

const MiB = 1 << 20;
const TEAM = 'team-resume';
const KEY = 'big-model';
const FAST = { minDelayMs: 1, maxDelayMs: 5 };
const sa = makeServiceAccount();
const editor: Principal = {
  userId: 'u1',
  tokenId: 't1',
  kind: 'personal',
  scopes: ['write'],
  teams: { [TEAM]: 'editor' },
};
const projectId = `demo-resume-${randomBytes(4).toString('hex')}`;
const dirs: string[] = [];
let gateway: StorageGateway;
let store: GcsBlobStore;
let meta: ReturnType<typeof createFirestoreMetadataStore>;
let deps: CoreDeps;

beforeAll(async () => {
  gateway = await startStorageGateway({ emulatorHost: storageHost, keys: { [sa.client_email]: sa.publicKeyPem } });
  store = createGcsBlobStore({
    bucket: uid('bkt-resume'),
    credentials: sa,
    apiEndpoint: storageHost,
    signedUrlBase: gateway.url,
  });
  meta = createFirestoreMetadataStore({ projectId });
  deps = {
    blobs: store,
    meta,
    identity: {
      authenticate: async () => {
        throw new StudioError('E_UNAUTHENTICATED', 'not used here');
      },
    },
    audit: { append: async () => {}, list: async () => [] },
    urlTtlSeconds: 900,
    now: () => new Date(),
  };
  await createExperiment(deps, editor, TEAM, createExperimentBody.parse({ key: KEY }));
});
afterAll(async () => {
  await meta?.close();
  await gateway?.close();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'resume-gcp-'));
  dirs.push(d);
  return d;
};

describe('resumable uploads through the GCS adapter', () => {
  it('planUpload offers sessions for blobs >= 32 MiB only; the signed start POST opens one at the gateway', async () => {
    const sizes = [RESUMABLE_MIN_BYTES - 1, RESUMABLE_MIN_BYTES, RESUMABLE_MIN_BYTES + 1];
    const blobs = sizes.map((size, i) => ({ sha256: sha256(`plan ${i} ${projectId}`), size }));
    const plan = await planUpload(deps, editor, TEAM, KEY, 'sizes', blobs);
    expect(plan.uploads.map((u) => [u.size, u.resumable !== undefined])).toEqual([
      [RESUMABLE_MIN_BYTES - 1, false],
      [RESUMABLE_MIN_BYTES, true],
      [RESUMABLE_MIN_BYTES + 1, true],
    ]);
    const big = plan.uploads[2];
    expect(big?.request.method).toBe('PUT');
    expect(big?.resumable).toMatchObject({
      method: 'POST',
      headers: {
        'x-goog-resumable': 'start',
        'x-goog-content-length-range': `${RESUMABLE_MIN_BYTES + 1},${RESUMABLE_MIN_BYTES + 1}`,
        'x-goog-if-generation-match': '0',
      },
    });
    expect(new URL(big?.resumable?.url ?? '').pathname).toBe(new URL(big?.request.url ?? '').pathname);
    const opened = await fetch(big?.resumable?.url ?? '', { method: 'POST', headers: big?.resumable?.headers });
    expect(opened.status).toBe(201);
    expect(opened.headers.get('location')).toMatch(/upload_id=/);
  });

  it('uploads a 33 MiB file in a session, interrupted once and resumed by a second call; the object hashes right', async () => {
    const data = randomBytes(33 * MiB);
    const sha = createHash('sha256').update(data).digest('hex');
    const abs = join(tmp(), 'weights.bin');
    writeFileSync(abs, data);
    const plan = await planUpload(deps, editor, TEAM, KEY, 'model', [{ sha256: sha, size: data.length }]);
    expect(plan.uploads).toHaveLength(1);
    expect(plan.uploads[0]?.resumable).toBeDefined();
    const sessionDir = join(tmp(), 'uploads');
    const sources = new Map([[sha, abs]]);
    const created = () => gateway.statuses.get(201) ?? 0;
    const createdBefore = created();

    // First call: aborted once 20 MiB have been sent (the third chunk is under way).
    const stop = new AbortController();
    let sentBeforeAbort = 0;
    const err = await uploadBlobs(plan, sources, {
      sessionDir,
      retry: FAST,
      signal: stop.signal,
      onProgress: (n) => {
        sentBeforeAbort = Math.max(sentBeforeAbort, n);
        if (n >= 20 * MiB) stop.abort(new Error('interrupted'));
      },
    }).catch((e: unknown) => e);
    expect((err as Error).message).toBe('interrupted');
    expect(existsSync(join(sessionDir, `${sha}.json`))).toBe(true);
    expect(await store.stat(blobKey(TEAM, sha))).toBeNull();

    // Second call (the next process): same plan, same folder. It resumes after the chunks the gateway kept.
    const progress: number[] = [];
    const r = await uploadBlobs(plan, sources, { sessionDir, retry: FAST, onProgress: (n) => progress.push(n) });
    expect(r).toEqual({ uploadedBlobs: 1, uploadedBytes: data.length });
    const resumedAt = progress[0] ?? 0;
    expect(resumedAt).toBeGreaterThanOrEqual(2 * RESUMABLE_CHUNK_BYTES);
    expect(resumedAt % RESUMABLE_CHUNK_BYTES).toBe(0);
    expect(progress.at(-1)).toBe(data.length);
    expect(created() - createdBefore).toBe(1); // one session, opened by the first call
    expect(existsSync(join(sessionDir, `${sha}.json`))).toBe(false);
    console.info(
      `[resumable/gcs] 33 MiB: first call sent ${sentBeforeAbort} before the abort, gateway kept ${resumedAt}, ` +
        `second call sent ${data.length - resumedAt}; re-sent ${sentBeforeAbort - resumedAt} bytes`,
    );

    const stored = createHash('sha256');
    for await (const chunk of await store.read(blobKey(TEAM, sha))) stored.update(chunk);
    expect(stored.digest('hex')).toBe(sha);

    // The backend accepts it: the commit re-hashes the object from storage (GCS cannot check a sha256 itself).
    const commit = await commitVersion(deps, editor, TEAM, KEY, 'model', {
      mutable: false,
      manifest: { files: [{ path: 'weights.bin', size: data.length, sha256: sha, mode: 0o644, mtime: 0 }] },
      stats: { hashedFiles: 1, hashedBytes: data.length, uploadedBlobs: 1, uploadedBytes: data.length, skipped: [] },
    });
    expect(commit.created).toBe(true);
    expect((await meta.findBlobs(TEAM, [sha])).get(sha)?.verified).toBe(true);
  });
});
