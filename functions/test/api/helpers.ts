/**
 * Test harness for the v1 HTTP API: a real local host (startLocalServer) on 127.0.0.1 in a temp home, the local
 * token from ensureLocalCredentials, and plain `fetch`. Nothing here talks to the core directly except for the
 * fixtures a client cannot create itself (extra users, memberships, expired/revoked tokens) and read-only views of
 * what was stored (a separate read-only SQLite connection and a listing of the store folder).
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { expect } from 'vitest';
import { homePaths } from '../../src/adapters/local/local-home.ts';
import type { ErrorCode } from '../../src/contract/errors.ts';
import type { Manifest } from '../../src/contract/manifest.ts';
import type { CaptureStats, Role } from '../../src/contract/model.ts';
import type { CommitVersionBody, CreateExperimentBody } from '../../src/contract/schemas.ts';
import { blobRequest, type SignedRequest } from '../../src/contract/transfer.ts';
import type {
  CommitVersionResponse,
  CreateExperimentResponse,
  DownloadResponse,
  ErrorBody,
  PlannedPack,
  PlanUploadResponse,
  RegisterPackResponse,
} from '../../src/contract/wire.ts';
import { type MetadataPorts, metadataPorts } from '../../src/core/ports.ts';
import { mintToken } from '../../src/core/tokens.ts';
import { ensureLocalCredentials, LOCAL_TEAM } from '../../src/hosts/local-server/local-backend.ts';
import { type LocalServer, startLocalServer } from '../../src/hosts/local-server/server.ts';

export const TEAM = LOCAL_TEAM;

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** Deterministic pseudo-random bytes; different seeds give different contents (shared with the suites). */
export { bytes } from '../conformance/fixtures.ts';

export function text(s: string): Uint8Array {
  return new Uint8Array(Buffer.from(s, 'utf8'));
}

let counter = 0;
/** A fresh experiment key (keys are per-server state, so tests sharing a server never collide). */
export function uniqueKey(prefix = 'exp'): string {
  counter += 1;
  return `${prefix}-${process.pid}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The server's key layout for a team's content-addressed blob (duplicated on purpose: the test pins it). */
export function blobKeyOf(team: string, sha: string): string {
  return `teams/${team}/blobs/sha256/${sha.slice(0, 2)}/${sha}`;
}

/** The server's key layout for a team's pack of small blobs (core/keys.ts packKey; pinned here like blobKeyOf). */
export function packKeyOf(team: string, id: string): string {
  return `teams/${team}/packs/${id.slice(0, 2)}/${id}`;
}

const enc = encodeURIComponent;
export const route = {
  whoami: () => '/v1/whoami',
  experiments: () => '/v1/experiments',
  experiment: (key: string) => `/v1/experiments/${enc(key)}`,
  finish: (key: string) => `/v1/experiments/${enc(key)}/finish`,
  uploads: (key: string, tag: string) => `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/uploads`,
  packs: (key: string, tag: string) => `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/packs`,
  versions: (key: string, tag: string) => `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/versions`,
  version: (key: string, tag: string, v: number | 'latest') =>
    `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/versions/${v}`,
  downloads: (key: string, tag: string, v: number | 'latest') =>
    `/v1/experiments/${enc(key)}/artifacts/${enc(tag)}/versions/${v}/downloads`,
};

export interface CallOptions {
  /** JSON body (serialised here). */
  body?: unknown;
  /** Raw body text sent as is (for malformed JSON). */
  raw?: string;
  /** Bearer token; null sends no Authorization header; default is the local admin token. */
  token?: string | null;
  /** A full Authorization header value (overrides `token`). */
  authorization?: string;
  /** x-studio-team header. */
  team?: string;
}

export interface ApiResult<T> {
  status: number;
  body: T;
  text: string;
}

export interface StoreSnapshot {
  /** Every row of the data tables (the whole state a client can observe). */
  db: Record<'experiments' | 'artifacts' | 'versions' | 'blobs', unknown[]>;
  /** Files below <home>/store/teams, relative, sorted. */
  files: string[];
  /** Leftover temp files of the blob store. */
  tmp: string[];
}

/** A local server plus its metadata ports (MetadataPorts: experiments, blobIndex, accounts, tokens). */
export interface Harness extends MetadataPorts {
  home: string;
  url: string;
  /** The local admin's personal token (ensureLocalCredentials). */
  token: string;
  server: LocalServer;
  /** Errors the host logged as unhandled. */
  logged: { msg: string; err: unknown }[];
  call<T = unknown>(method: string, path: string, opts?: CallOptions): Promise<ApiResult<T>>;
  snapshot(): Promise<StoreSnapshot>;
  /** Absolute file of a storage key (for existence checks). */
  fileOfKey(key: string): string;
  close(): Promise<void>;
}

async function listFiles(root: string): Promise<string[]> {
  if (!existsSync(root)) return [];
  const entries = await readdir(root, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => relative(root, join(e.parentPath, e.name)))
    .sort();
}

export async function startHarness(opts: { urlTtlSeconds?: number } = {}): Promise<Harness> {
  const home = await mkdtemp(join(tmpdir(), 'sl-api-'));
  const logged: { msg: string; err: unknown }[] = [];
  let server: LocalServer;
  try {
    server = await startLocalServer({
      home,
      urlTtlSeconds: opts.urlTtlSeconds,
      log: (msg, err) => logged.push({ msg, err }),
    });
  } catch (err) {
    await rm(home, { recursive: true, force: true });
    throw err;
  }
  const creds = await ensureLocalCredentials(home, server.backend.deps);
  const paths = homePaths(home);

  const call = async <T>(method: string, path: string, o: CallOptions = {}): Promise<ApiResult<T>> => {
    const headers: Record<string, string> = {};
    const token = o.token === undefined ? creds.token : o.token;
    if (o.authorization !== undefined) headers.authorization = o.authorization;
    else if (token !== null) headers.authorization = `Bearer ${token}`;
    if (o.team !== undefined) headers['x-studio-team'] = o.team;
    let body: string | undefined;
    if (o.raw !== undefined) body = o.raw;
    else if (o.body !== undefined) body = JSON.stringify(o.body);
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(server.url + path, { method, headers, body });
    const t = await res.text();
    let parsed: unknown;
    try {
      parsed = t ? JSON.parse(t) : undefined;
    } catch {
      throw new Error(`${method} ${path} answered ${res.status} with a non-JSON body: ${t.slice(0, 200)}`);
    }
    return { status: res.status, body: parsed as T, text: t };
  };

  const snapshot = async (): Promise<StoreSnapshot> => {
    const db = new Database(paths.db, { readonly: true, fileMustExist: true });
    try {
      const all = (table: string, order: string) => db.prepare(`SELECT * FROM ${table} ORDER BY ${order}`).all();
      return {
        db: {
          experiments: all('experiments', 'team, key'),
          artifacts: all('artifacts', 'team, experiment, tag'),
          versions: all('versions', 'team, experiment, tag, version'),
          blobs: all('blobs', 'team, sha256'),
        },
        files: await listFiles(join(paths.store, 'teams')),
        tmp: await listFiles(join(paths.store, '.tmp')),
      };
    } finally {
      db.close();
    }
  };

  return {
    home,
    url: server.url,
    token: creds.token,
    server,
    ...metadataPorts(server.backend.deps),
    logged,
    call,
    snapshot,
    fileOfKey: (key) => server.backend.blobs.fileOf(key),
    async close() {
      await server.close();
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** Creates a user with the given memberships and a token for it (expired when `expiresAt` is in the past). */
export async function mintUserToken(
  h: Harness,
  userId: string,
  teams: Record<string, Role>,
  opts: { expiresAt?: Date | null; revoked?: boolean } = {},
): Promise<string> {
  const now = new Date();
  if (!(await h.accounts.getUser(userId)))
    await h.accounts.putUser({ id: userId, name: userId, createdAt: now.toISOString() });
  for (const [team, role] of Object.entries(teams)) await h.accounts.setMembership(team, userId, role);
  const { secret, record } = await mintToken(h, {
    userId,
    kind: 'personal',
    scopes: ['*'],
    expiresAt: opts.expiresAt ?? null,
    now,
  });
  if (opts.revoked) await h.tokens.revokeToken(record.id, now.toISOString());
  return secret;
}

/**
 * Asserts an error response: the status, the stable code, and a body that is exactly {error:{code,message[,details]}}
 * with no stack trace or source location in it.
 */
export function expectError(res: ApiResult<unknown>, status: number, code: ErrorCode): void {
  const summary = `${res.status} ${res.text.slice(0, 300)}`;
  expect(res.status, summary).toBe(status);
  const body = res.body as ErrorBody;
  expect(Object.keys(body ?? {}), summary).toEqual(['error']);
  expect(body.error.code, summary).toBe(code);
  expect(typeof body.error.message).toBe('string');
  for (const k of Object.keys(body.error)) expect(['code', 'message', 'details']).toContain(k);
  expectNoStack(res.text);
}

export function expectNoStack(t: string): void {
  expect(t).not.toMatch(/\\n\s+at |\n\s+at |node:internal|\.[cm]?[jt]s:\d+:\d+/);
}

export interface FileSpec {
  path: string;
  data: Uint8Array;
  mode?: number;
  mtime?: number;
}

export function manifestOf(files: FileSpec[], links: Manifest['links'] = []): Manifest {
  return {
    files: files.map((f) => ({
      path: f.path,
      size: f.data.length,
      sha256: sha256(f.data),
      mode: f.mode ?? 0o644,
      mtime: f.mtime ?? 1_700_000_000_000,
    })),
    links,
  };
}

/** The canonical (server) order of a manifest. */
export function sorted(m: Manifest): Manifest {
  const by = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return { files: [...m.files].sort(by), links: [...m.links].sort(by) };
}

export const STATS: CaptureStats = { hashedFiles: 0, hashedBytes: 0, uploadedBlobs: 0, uploadedBytes: 0, skipped: [] };

/** Performs a signed request exactly as a client would (method, url, headers as given). */
export function send(
  req: SignedRequest,
  body?: Uint8Array,
  over: { method?: string; url?: string; headers?: Record<string, string> } = {},
): Promise<Response> {
  return fetch(over.url ?? req.url, {
    method: over.method ?? req.method,
    headers: over.headers ?? req.headers,
    body: body === undefined ? undefined : Buffer.from(body),
  });
}

/** PUT with a streamed (chunked, no content-length) body, so the server only learns the size while reading. */
export function sendChunked(req: SignedRequest, chunks: Uint8Array[]): Promise<Response> {
  const stream = new ReadableStream<Uint8Array>({
    start(controller) {
      for (const c of chunks) controller.enqueue(c);
      controller.close();
    },
  });
  return fetch(req.url, { method: req.method, headers: req.headers, body: stream, duplex: 'half' } as RequestInit);
}

/** Reads a storage error response (the storage routes answer with the same ErrorBody). */
export async function storageResult(res: Response): Promise<ApiResult<unknown>> {
  const t = await res.text();
  let body: unknown;
  try {
    body = t ? JSON.parse(t) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text: t };
}

export async function createExperiment(
  h: Harness,
  key: string,
  extra: Partial<CreateExperimentBody> = {},
  opts: CallOptions = {},
): Promise<CreateExperimentResponse> {
  const res = await h.call<CreateExperimentResponse>('POST', route.experiments(), { ...opts, body: { key, ...extra } });
  expect(res.status, res.text).toBe(201);
  return res.body;
}

/** Plans and uploads every blob of `datas` through the signed requests; returns the plan. */
export async function uploadBlobs(
  h: Harness,
  key: string,
  tag: string,
  datas: Uint8Array[],
  opts: CallOptions = {},
): Promise<PlanUploadResponse> {
  const byHash = new Map(datas.map((d) => [sha256(d), d]));
  const plan = await h.call<PlanUploadResponse>('POST', route.uploads(key, tag), {
    ...opts,
    body: { blobs: [...byHash].map(([sha, d]) => ({ sha256: sha, size: d.length })) },
  });
  expect(plan.status, plan.text).toBe(200);
  await Promise.all(
    plan.body.uploads.map(async (u) => {
      const res = await send(u.request, byHash.get(u.sha256));
      expect(res.status, await res.clone().text()).toBe(201);
    }),
  );
  for (const p of plan.body.packs) {
    const res = await send(p.request, packBody(p, byHash));
    expect(res.status, await res.clone().text()).toBe(201);
    const reg = await registerPack(h, key, tag, p, opts);
    expect(reg.status, reg.text).toBe(200);
  }
  return plan.body;
}

/** A planned pack's body: its members' bytes concatenated in the planned order. */
export function packBody(pack: Pick<PlannedPack, 'members'>, byHash: Map<string, Uint8Array>): Buffer {
  return Buffer.concat(pack.members.map((m) => byHash.get(m.sha256) as Uint8Array));
}

/** POST …/artifacts/:tag/packs for a planned (and, normally, uploaded) pack: `{id, nonce, members}` as planned. */
export function registerPack(
  h: Harness,
  key: string,
  tag: string,
  pack: Pick<PlannedPack, 'id' | 'nonce' | 'members'>,
  opts: CallOptions = {},
): Promise<ApiResult<RegisterPackResponse>> {
  return h.call<RegisterPackResponse>('POST', route.packs(key, tag), {
    ...opts,
    body: { id: pack.id, nonce: pack.nonce, members: pack.members },
  });
}

/**
 * The GET that fetches exactly one blob of a download answer (contract/transfer.ts blobRequest): a blob of its own
 * is its signed GET; a packed one is its pack's signed GET with the `Range` of its bytes (answered 206).
 */
export function downloadRequest(res: DownloadResponse, sha: string): SignedRequest {
  const r = blobRequest(res, sha);
  if (!r) throw new Error(`the download answer holds no request for ${sha}`);
  const signed = [...res.blobs, ...(res.packs ?? [])].find((x) => x.request.url === r.url)?.request as SignedRequest;
  return { ...signed, headers: r.headers };
}

export function commit(
  h: Harness,
  key: string,
  tag: string,
  manifest: unknown,
  mutable = true,
  extra: Partial<CommitVersionBody> = {},
  opts: CallOptions = {},
): Promise<ApiResult<CommitVersionResponse>> {
  return h.call<CommitVersionResponse>('POST', route.versions(key, tag), {
    ...opts,
    body: { mutable, manifest, ...extra },
  });
}

/** Uploads the files' blobs and commits them as a version; asserts success. */
export async function publish(
  h: Harness,
  key: string,
  tag: string,
  files: FileSpec[],
  mutable = true,
): Promise<CommitVersionResponse> {
  await uploadBlobs(
    h,
    key,
    tag,
    files.map((f) => f.data),
  );
  const res = await commit(h, key, tag, manifestOf(files), mutable);
  expect([200, 201], res.text).toContain(res.status);
  return res.body;
}
