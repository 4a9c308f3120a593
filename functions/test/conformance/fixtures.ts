import { createHash, randomBytes } from 'node:crypto';
import { expect } from 'vitest';
import type { ErrorCode } from '../../src/contract/errors.ts';
import type { CaptureStats, ExperimentRecord } from '../../src/contract/model.ts';
import type { TokenRecord, UserRecord } from '../../src/core/model.ts';
import type { CommitVersionInput } from '../../src/core/ports.ts';

/** Hex sha256 of bytes or text. */
export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A fresh id so suites can share one backend (an emulator) without clearing it between tests. */
export function uid(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

/** Deterministic pseudo-random bytes (repeatable failures, no entropy drain for large sizes). */
export function bytes(size: number, seed = 1): Uint8Array {
  const out = new Uint8Array(size);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < size; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** The server's key layout for a team's content-addressed blob. */
export function blobKey(team: string, sha: string): string {
  return `teams/${team}/blobs/sha256/${sha.slice(0, 2)}/${sha}`;
}

/** Minutes from now. */
export function inMinutes(n: number): Date {
  return new Date(Date.now() + n * 60_000);
}

/** ISO time `seconds` after a fixed origin: ordered timestamps without sleeping. */
export function at(seconds: number): string {
  return new Date(Date.UTC(2030, 0, 1) + seconds * 1000).toISOString();
}

export function experiment(team: string, key: string, over: Partial<ExperimentRecord> = {}): ExperimentRecord {
  return {
    team,
    key,
    project: null,
    owner: 'user-1',
    status: 'queued',
    command: ['python', 'train.py', '--lr', '0.1'],
    cwd: '/home/user/project',
    host: 'host-1',
    git: { commit: 'a'.repeat(40), url: 'https://example.invalid/repo.git', dirty: false },
    createdAt: at(0),
    startedAt: null,
    finishedAt: null,
    exitCode: null,
    signal: null,
    warnings: [],
    lineage: [],
    ...over,
  };
}

export function stats(over: Partial<CaptureStats> = {}): CaptureStats {
  return { hashedFiles: 2, hashedBytes: 30, uploadedBlobs: 1, uploadedBytes: 10, skipped: [], ...over };
}

/** A commit whose digest and manifest hash derive from `content`, so equal content means equal digest. */
export function commit(
  team: string,
  exp: string,
  tag: string,
  content: string,
  over: Partial<CommitVersionInput> = {},
): CommitVersionInput {
  return {
    team,
    experiment: exp,
    tag,
    mutable: true,
    digest: sha256(`digest:${content}`),
    manifestSha256: sha256(`manifest:${content}`),
    files: 2,
    bytes: 30,
    stats: stats(),
    createdBy: 'user-1',
    createdAt: at(10),
    ...over,
  };
}

export function user(id: string, over: Partial<UserRecord> = {}): UserRecord {
  return { id, name: `User ${id}`, email: null, createdAt: at(0), ...over };
}

export function token(id: string, userId: string, over: Partial<TokenRecord> = {}): TokenRecord {
  return {
    id,
    userId,
    hash: sha256(`secret:${id}`),
    kind: 'personal',
    scopes: ['*'],
    createdAt: at(0),
    expiresAt: null,
    revokedAt: null,
    binding: null,
    label: null,
    ...over,
  };
}

/** Awaits `p` and asserts it rejected with a StudioError-like error carrying `code`. */
export async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<Error> {
  const err = await p.then(
    (value) => {
      throw new Error(`expected rejection with ${code}, got ${JSON.stringify(value)?.slice(0, 200)}`);
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(Error);
  expect((err as { code?: unknown }).code, String((err as Error).message)).toBe(code);
  return err as Error;
}

/** Concatenates an async byte stream. */
export async function readAll(it: AsyncIterable<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const c of it) chunks.push(c);
  return Buffer.concat(chunks);
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
