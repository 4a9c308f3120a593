// planUpload offers a resumable session start for missing blobs of at least RESUMABLE_MIN_BYTES, when the store
// signs sessions: the embedded backend (SQLite metadata, disk store) with a store wrapper that adds the method.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openLocalBackend } from '../../src/adapters/local/local-backend.ts';
import { StudioError } from '../../src/contract/errors.ts';
import type { Principal } from '../../src/contract/model.ts';
import { createExperimentBody } from '../../src/contract/schemas.ts';
import { planUpload, RESUMABLE_MIN_BYTES } from '../../src/core/artifacts.ts';
import type { CoreDeps } from '../../src/core/context.ts';
import { createExperiment } from '../../src/core/experiments.ts';
import type { BlobStore, UploadConstraint } from '../../src/core/ports.ts';
import { sha256 } from '../conformance/fixtures.ts';

const TEAM = 'team-r';
const editor: Principal = {
  userId: 'u1',
  tokenId: 't1',
  kind: 'personal',
  scopes: ['write'],
  teams: { [TEAM]: 'editor' },
};
let home: string;
let backend: ReturnType<typeof openLocalBackend>;

beforeAll(async () => {
  home = mkdtempSync(join(tmpdir(), 'plan-resumable-'));
  backend = openLocalBackend(home, { publicUrl: () => 'http://127.0.0.1:9' });
  await createExperiment(backend.deps, editor, TEAM, createExperimentBody.parse({ key: 'big' }));
});
afterAll(async () => {
  await backend?.close();
  rmSync(home, { recursive: true, force: true });
});

/** The local store plus a session signer that records what it was asked. */
function withSessions(signed: { key: string; c: UploadConstraint }[], fail = false): CoreDeps {
  const base = backend.deps.blobs;
  const blobs: BlobStore = Object.assign(Object.create(base) as BlobStore, {
    async signResumableUpload(key: string, c: UploadConstraint) {
      if (fail) throw new StudioError('E_UNAVAILABLE', 'signing service down');
      signed.push({ key, c });
      return {
        method: 'POST' as const,
        url: `https://storage.example/${key}?sig=1`,
        headers: { 'x-goog-resumable': 'start', 'x-goog-content-length-range': `${c.size},${c.size}` },
        expiresAt: c.expiresAt.toISOString(),
      };
    },
  });
  return { ...backend.deps, blobs };
}

const blobs = [RESUMABLE_MIN_BYTES - 1, RESUMABLE_MIN_BYTES, RESUMABLE_MIN_BYTES + 5, 1000].map((size, i) => ({
  sha256: sha256(`blob ${i}`),
  size,
}));

describe('planUpload and resumable sessions', () => {
  it('is 32 MiB', () => {
    expect(RESUMABLE_MIN_BYTES).toBe(32 * 1024 * 1024);
  });

  it('adds `resumable` next to `request` for missing blobs >= 32 MiB only', async () => {
    const signed: { key: string; c: UploadConstraint }[] = [];
    const plan = await planUpload(withSessions(signed), editor, TEAM, 'big', 'model', blobs);
    const bySize = new Map(plan.uploads.map((u) => [u.size, u]));
    expect(bySize.get(RESUMABLE_MIN_BYTES - 1)?.resumable).toBeUndefined();
    expect('resumable' in (bySize.get(RESUMABLE_MIN_BYTES - 1) ?? {})).toBe(false);
    for (const size of [RESUMABLE_MIN_BYTES, RESUMABLE_MIN_BYTES + 5]) {
      const u = bySize.get(size);
      expect(u?.request.method).toBe('PUT');
      expect(u?.resumable).toMatchObject({ method: 'POST', headers: { 'x-goog-resumable': 'start' } });
      expect(u?.resumable?.expiresAt).toBe(u?.request.expiresAt);
    }
    // The small blob goes into a pack; sessions are signed for the same keys as the PUTs.
    expect(plan.packs.flatMap((p) => p.members.map((m) => m.size))).toEqual([1000]);
    expect(signed.map((s) => s.c.size)).toEqual([RESUMABLE_MIN_BYTES, RESUMABLE_MIN_BYTES + 5]);
    for (const s of signed) expect(s.key).toMatch(new RegExp(`^teams/${TEAM}/blobs/sha256/.+/${s.c.sha256}$`));
  });

  it('a store without sessions (the disk store) gets plain uploads', async () => {
    const plan = await planUpload(backend.deps, editor, TEAM, 'big', 'model', blobs);
    expect(backend.deps.blobs.signResumableUpload).toBeUndefined();
    expect(plan.uploads).toHaveLength(3);
    expect(plan.uploads.every((u) => !('resumable' in u))).toBe(true);
  });

  it('a session signing error propagates like a signUpload one', async () => {
    await expect(planUpload(withSessions([], true), editor, TEAM, 'big', 'model', blobs)).rejects.toMatchObject({
      code: 'E_UNAVAILABLE',
    });
  });
});
