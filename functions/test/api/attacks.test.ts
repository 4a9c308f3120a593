/**
 * Attack tests of issue 4 on the local backend, one `describe` per attack: guessing another team's blob hash, a signed
 * URL reused for another object or method, an expired URL, path traversal in manifest paths and tags, a secret in a
 * run's argv or env showing up in a record, and a blob whose bytes do not match its hash being served to another
 * experiment. Each refused attempt also asserts that nothing was stored (every table and every stored file).
 *
 * Related proofs elsewhere: functions/test/api/signed-urls.test.ts (every tampered URL parameter, pack members,
 * streamed bodies, URL lifetime with urlTtlSeconds 1), functions/test/api/bad-input.test.ts (every bad manifest and
 * key), functions/test/api/jobs.test.ts ('secrets in the command line', bad capture paths), cli/test/e2e/redaction.test.ts
 * (the real binary: argv redacted, the script's environment has no STUDIOML_TOKEN), and for Google Cloud Storage
 * functions/test/gcp/authz-matrix.test.ts ('attacks on the Cloud Function (GCS)': wrong bytes are re-hashed and
 * deleted before another experiment can reference them; another team's hash), functions/test/gcp/function-host.test.ts
 * and functions/test/gcp/v4-verifier.test.ts (V4 URLs bound to method, object, headers, length and expiry).
 */
import { request as httpRequest } from 'node:http';
import Database from 'better-sqlite3';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { homePaths } from '../../src/adapters/local/local-home.ts';
import type { ErrorCode } from '../../src/contract/errors.ts';
import type { JobRecord } from '../../src/contract/job-model.ts';
import type { SignedRequest } from '../../src/contract/transfer.ts';
import type { DownloadResponse, PlannedPack, PlanUploadResponse } from '../../src/contract/wire.ts';
import {
  type ApiResult,
  blobKeyOf,
  bytes,
  type CallOptions,
  commit,
  createExperiment,
  downloadRequest,
  expectError,
  type Harness,
  manifestOf,
  mintUserToken,
  packBody,
  packKeyOf,
  publish,
  registerPack,
  route,
  send,
  sha256,
  startHarness,
  storageResult,
  TEAM,
  text,
  uniqueKey,
  uploadBlobs,
} from './helpers.ts';

const OTHER_TEAM = 'team-b';
const KiB = 1024;
let h: Harness;
/** An editor of team-b only (the attacker of the cross-team cases). */
let mallory: CallOptions;
let viewer: CallOptions;

/** Every row of every table and every stored file. */
async function wholeStore(): Promise<unknown> {
  const db = new Database(homePaths(h.home).db, { readonly: true, fileMustExist: true });
  try {
    const tables = db
      .prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name")
      .all() as { name: string }[];
    const rows = Object.fromEntries(
      tables.map(({ name }) => [
        name,
        db
          .prepare(`SELECT * FROM "${name}"`)
          .all()
          .map((r) => JSON.stringify(r))
          .sort(),
      ]),
    );
    const { files, tmp } = await h.snapshot();
    return { rows, files, tmp };
  } finally {
    db.close();
  }
}

/** Runs `attempt` and asserts that it stored nothing at all. */
async function storesNothing<T>(attempt: () => Promise<T>): Promise<T> {
  const before = await wholeStore();
  const out = await attempt();
  expect(await wholeStore()).toEqual(before);
  return out;
}

function withPath(url: string, pathname: string): string {
  const u = new URL(url);
  u.pathname = pathname;
  return u.toString();
}

/** Sends a request with the path exactly as given (fetch would resolve `%2e%2e` segments before sending). */
function rawCall(method: string, rawPath: string, token: string, body?: unknown): Promise<ApiResult<unknown>> {
  const u = new URL(h.url);
  const payload = body === undefined ? undefined : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      {
        host: u.hostname,
        port: u.port,
        method,
        path: rawPath,
        headers: {
          authorization: `Bearer ${token}`,
          ...(payload ? { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } : {}),
        },
      },
      (res) => {
        let t = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => {
          t += c;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: t ? JSON.parse(t) : undefined, text: t }));
      },
    );
    req.on('error', reject);
    req.end(payload);
  });
}

/** Plans blobs for key/tag and returns the plan (asserting 200). */
async function plan(
  key: string,
  tag: string,
  datas: Uint8Array[],
  opts: CallOptions = {},
): Promise<PlanUploadResponse> {
  const res = await h.call<PlanUploadResponse>('POST', route.uploads(key, tag), {
    ...opts,
    body: { blobs: datas.map((d) => ({ sha256: sha256(d), size: d.length })) },
  });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

/** The one signed request of a one-blob plan (a single upload over 256 KiB, a pack of one below). */
const only = (p: PlanUploadResponse): SignedRequest => (p.uploads[0]?.request ?? p.packs[0]?.request) as SignedRequest;

async function downloadUrl(key: string, tag: string, version: number, data: Uint8Array, opts: CallOptions = {}) {
  const res = await h.call<DownloadResponse>('POST', route.downloads(key, tag, version), {
    ...opts,
    body: { sha256s: [sha256(data)] },
  });
  expect(res.status, res.text).toBe(200);
  // A small blob's request is its pack's GET with the Range of its bytes.
  return downloadRequest(res.body, sha256(data));
}

beforeAll(async () => {
  h = await startHarness();
  mallory = { token: await mintUserToken(h, 'mallory', { [OTHER_TEAM]: 'editor' }) };
  viewer = { token: await mintUserToken(h, 'vera', { [TEAM]: 'viewer' }) };
});
afterAll(async () => {
  await h?.close();
});
afterEach(() => {
  expect(h.logged).toEqual([]);
});

describe("guessing another team's blob hash", () => {
  // Over 256 KiB: planned as a single upload, whose URL names the object key (small blobs travel in packs).
  const secret = new Uint8Array(Buffer.concat([text('team local: the secret weights\n'), bytes(300 * KiB, 700)]));
  const victim = uniqueKey('victim');
  // Small: stored inside a pack of team local.
  const note = text('team local: a small secret note\n');
  let own: string;

  beforeAll(async () => {
    await createExperiment(h, victim);
    await publish(h, victim, 'model', [{ path: 'w.bin', data: secret }]);
    await publish(h, victim, 'notes', [{ path: 'n.txt', data: note }]);
    own = uniqueKey('mallory');
    await createExperiment(h, own, {}, mallory);
    const mine = text('mallory own data\n');
    await uploadBlobs(h, own, 'mine', [mine], mallory);
    expect((await commit(h, own, 'mine', manifestOf([{ path: 'm.txt', data: mine }]), true, {}, mallory)).status).toBe(
      201,
    );
  });

  it('in an uploads plan: reported missing with an upload into its own namespace, never "present"', async () => {
    const p = await storesNothing(() => plan(own, 'steal', [secret], mallory));
    expect(p.present).toBe(0);
    const req = only(p);
    expect(new URL(req.url).pathname).toContain(blobKeyOf(OTHER_TEAM, sha256(secret)));
    expect(req.url).not.toContain(`/teams/${TEAM}/`);
  });

  it('in a commit: 409 E_BLOB_MISSING (the hash alone is no blob of its team)', async () => {
    await storesNothing(async () =>
      expectError(
        await commit(h, own, 'steal', manifestOf([{ path: 'x', data: secret }]), true, {}, mallory),
        409,
        'E_BLOB_MISSING',
      ),
    );
  });

  it('in downloads of its own version: 403 E_FORBIDDEN (not part of the version), no URL, no audit entry', async () => {
    const res = await storesNothing(() =>
      h.call('POST', route.downloads(own, 'mine', 1), { ...mallory, body: { sha256s: [sha256(secret)] } }),
    );
    expectError(res, 403, 'E_FORBIDDEN');
    expect(res.text).not.toContain('/storage/');
  });

  it("a signed URL of its own team pointed at the other team's key: 403 E_BAD_SIGNATURE, no bytes", async () => {
    const mine = text('mallory own data\n');
    const dl = await downloadUrl(own, 'mine', 1, mine, mallory);
    // Its own small blob's URL is a GET of its own team's pack.
    expect(new URL(dl.url).pathname).toContain(`/storage/teams/${OTHER_TEAM}/packs/`);
    const res = await storageResult(
      await send(dl, undefined, { url: withPath(dl.url, `/storage/${blobKeyOf(TEAM, sha256(secret))}`) }),
    );
    expectError(res, 403, 'E_BAD_SIGNATURE');
    expect(res.text).not.toContain('secret weights');
    // … or at team local's pack holding the note (same Range): refused as well.
    const ours = await downloadUrl(victim, 'notes', 1, note);
    const localPack = new URL(ours.url).pathname;
    const localId = localPack.split('/').pop() as string;
    expect(localPack).toBe(`/storage/${packKeyOf(TEAM, localId)}`);
    const packRes = await storageResult(await send(dl, undefined, { url: withPath(dl.url, localPack) }));
    expectError(packRes, 403, 'E_BAD_SIGNATURE');
    expect(packRes.text).not.toContain('small secret note');
    // Its upload URL for the same hash, pointed at team local's object: refused, and that object is unchanged.
    const up = only(await plan(own, 'steal', [secret], mallory));
    await storesNothing(async () => {
      const put = await storageResult(
        await send(up, new Uint8Array(secret.length).fill(0x21), {
          url: withPath(up.url, `/storage/${blobKeyOf(TEAM, sha256(secret))}`),
        }),
      );
      expectError(put, 403, 'E_BAD_SIGNATURE');
    });
    const back = await send(await downloadUrl(victim, 'model', 1, secret));
    expect(Buffer.from(await back.arrayBuffer()).equals(Buffer.from(secret))).toBe(true);
  });

  it('the same bytes uploaded by the other team stay two objects, each served from its own namespace', async () => {
    const k = uniqueKey('mallory-same');
    await createExperiment(h, k, {}, mallory);
    await uploadBlobs(h, k, 'copy', [secret], mallory);
    expect((await commit(h, k, 'copy', manifestOf([{ path: 'w.bin', data: secret }]), true, {}, mallory)).status).toBe(
      201,
    );
    const theirs = await downloadUrl(k, 'copy', 1, secret, mallory);
    const ours = await downloadUrl(victim, 'model', 1, secret);
    expect(new URL(theirs.url).pathname).toBe(`/storage/${blobKeyOf(OTHER_TEAM, sha256(secret))}`);
    expect(new URL(ours.url).pathname).toBe(`/storage/${blobKeyOf(TEAM, sha256(secret))}`);
  });
});

describe('a signed URL reused for another object or method', () => {
  const key = uniqueKey('reuse');
  const a = text('object a\n');
  const b = text('object b, another blob of the same team\n');
  let getA: SignedRequest;

  beforeAll(async () => {
    await createExperiment(h, key);
    await publish(h, key, 'out', [
      { path: 'a', data: a },
      { path: 'b', data: b },
    ]);
    getA = await downloadUrl(key, 'out', 1, a);
  });

  it('a download URL for another object: 403 E_BAD_SIGNATURE', async () => {
    const res = await storageResult(
      await send(getA, undefined, { url: withPath(getA.url, `/storage/${blobKeyOf(TEAM, sha256(b))}`) }),
    );
    expectError(res, 403, 'E_BAD_SIGNATURE');
    expect(res.text).not.toContain('object b');
  });

  it('a download URL used with PUT: 403 E_BAD_SIGNATURE, the object unchanged', async () => {
    await storesNothing(async () =>
      expectError(await storageResult(await send(getA, text('object A\n'), { method: 'PUT' })), 403, 'E_BAD_SIGNATURE'),
    );
    expect(Buffer.from(await (await send(getA)).arrayBuffer()).equals(Buffer.from(a))).toBe(true);
  });

  it('an upload URL used for another object (its bytes, its key), or with GET: 403 E_BAD_SIGNATURE', async () => {
    const x = bytes(300 * KiB, 401);
    const y = bytes(300 * KiB, 402);
    const up = only(await plan(key, 'out', [x]));
    expect(up.url).toContain('/storage/');
    await storesNothing(async () => {
      const other = withPath(up.url, `/storage/${blobKeyOf(TEAM, sha256(y))}`);
      expectError(await storageResult(await send(up, y, { url: other })), 403, 'E_BAD_SIGNATURE');
      expectError(
        await storageResult(await send(up, undefined, { method: 'GET', headers: {} })),
        403,
        'E_BAD_SIGNATURE',
      );
      // Its own key with other bytes: the size and sha256 it is bound to do not match.
      expectError(await storageResult(await send(up, y)), 400, 'E_HASH_MISMATCH');
    });
  });

  it('a pack URL used with GET or for another pack: 403 E_BAD_SIGNATURE', async () => {
    const small = [text('pack member one\n'), text('pack member two\n')];
    const p = await plan(key, 'packed', small);
    const req = p.packs[0]?.request as SignedRequest;
    await storesNothing(async () => {
      expectError(
        await storageResult(await send(req, undefined, { method: 'GET', headers: {} })),
        403,
        'E_BAD_SIGNATURE',
      );
      const other = withPath(req.url, `/storage-pack/${'0'.repeat(64)}`);
      expectError(await storageResult(await send(req, Buffer.concat(small), { url: other })), 403, 'E_BAD_SIGNATURE');
    });
  });
});

describe('an expired URL', () => {
  // The API signs with the backend's clock (deps.now); the storage host checks expiry with the wall clock. Moving the
  // backend an hour back makes it issue real URLs that are already expired.
  const key = uniqueKey('expired');
  const stored = text('stored before the URLs expired\n');
  let restore: () => void;

  beforeAll(async () => {
    await createExperiment(h, key);
    await publish(h, key, 'out', [{ path: 's', data: stored }]);
    const deps = h.server.backend.deps;
    const now = deps.now;
    restore = () => {
      deps.now = now;
    };
    deps.now = () => new Date(Date.now() - 3600_000);
  });
  afterAll(() => restore());

  it('an expired download URL: 403 E_URL_EXPIRED, no bytes', async () => {
    const dl = await downloadUrl(key, 'out', 1, stored);
    expect(Date.parse(dl.expiresAt)).toBeLessThan(Date.now());
    const res = await storageResult(await send(dl));
    expectError(res, 403, 'E_URL_EXPIRED');
    expect(res.text).not.toContain('stored before');
  });

  it('expired upload URLs (single and pack): 403 E_URL_EXPIRED, nothing stored', async () => {
    const big = bytes(300 * KiB, 501);
    const small = text('small blob behind an expired pack URL\n');
    const p = await plan(key, 'late', [big, small]);
    expect(p.uploads).toHaveLength(1);
    expect(p.packs).toHaveLength(1);
    await storesNothing(async () => {
      expectError(await storageResult(await send(p.uploads[0]?.request as SignedRequest, big)), 403, 'E_URL_EXPIRED');
      expectError(await storageResult(await send(p.packs[0]?.request as SignedRequest, small)), 403, 'E_URL_EXPIRED');
    });
  });

  it('an expired URL with its expiry moved forward: 403 E_BAD_SIGNATURE', async () => {
    const dl = await downloadUrl(key, 'out', 1, stored);
    const u = new URL(dl.url);
    u.searchParams.set('exp', String(Math.floor(Date.now() / 1000) + 3600));
    expectError(await storageResult(await send(dl, undefined, { url: u.toString() })), 403, 'E_BAD_SIGNATURE');
  });
});

describe('path traversal in manifest paths and tags', () => {
  const key = uniqueKey('traversal');
  const blob = text('a stored blob\n');
  const file = (path: string) => ({ path, size: blob.length, sha256: sha256(blob), mode: 0o644, mtime: 1 });

  beforeAll(async () => {
    await createExperiment(h, key);
    await publish(h, key, 'model', [{ path: 'ok.txt', data: blob }]);
  });

  it.each([
    ['../x', { files: [file('../x')] }],
    ['/abs', { files: [file('/abs')] }],
    ['a/../../b', { files: [file('a/../../b')] }],
    ['a\\b', { files: [file('a\\b')] }],
    ['NUL', { files: [file('a\u0000b')] }],
    ['..', { files: [file('..')] }],
    ['C:/x', { files: [file('C:\\x')] }],
    ['a link at ../x', { files: [], links: [{ path: '../x', target: 'ok.txt' }] }],
  ])('manifest path %s -> 400 E_BAD_PATH, nothing stored', async (_name, manifest) => {
    await storesNothing(async () =>
      expectError(
        await h.call('POST', route.versions(key, 'model'), { body: { mutable: true, manifest } }),
        400,
        'E_BAD_PATH',
      ),
    );
  });

  // Tags and keys are sent raw (node:http): a client library would resolve `..` and `%2e%2e` before sending. The
  // host resolves dot segments like any URL parser, so such a segment never reaches a route as a tag: the request
  // names another path, which has no route (404). Encoded slashes and other bytes reach the name checks (400).
  const uploads = (tag: string) => `/v1/experiments/${key}/artifacts/${tag}/uploads`;
  const planBody = { blobs: [{ sha256: sha256(blob), size: blob.length }] };
  it.each<[string, string, string, number, ErrorCode]>([
    ['..', 'POST', uploads('..'), 404, 'E_NOT_FOUND'],
    ['%2e%2e', 'POST', uploads('%2e%2e'), 404, 'E_NOT_FOUND'],
    ['%2E%2E', 'POST', uploads('%2E%2E'), 404, 'E_NOT_FOUND'],
    ['.%2e', 'POST', uploads('.%2e'), 404, 'E_NOT_FOUND'],
    ['a/b', 'POST', uploads('a/b'), 404, 'E_NOT_FOUND'],
    ['a%2Fb', 'POST', uploads('a%2Fb'), 400, 'E_BAD_TAG'],
    ['..%2Fx', 'POST', uploads('..%2Fx'), 400, 'E_BAD_TAG'],
    ['%2e%2e%2F..%2Fx', 'POST', uploads('%2e%2e%2F..%2Fx'), 400, 'E_BAD_TAG'],
    ['%00', 'POST', uploads('%00'), 400, 'E_BAD_TAG'],
    ['.hidden', 'POST', uploads('.hidden'), 400, 'E_BAD_TAG'],
    ['key a%2F..%2Fb', 'POST', '/v1/experiments/a%2F..%2Fb/artifacts/model/uploads', 400, 'E_BAD_KEY'],
    ['key ..%2Fteam-b', 'POST', '/v1/experiments/..%2Fteam-b/artifacts/model/uploads', 400, 'E_BAD_KEY'],
    ['team a%2F..', 'GET', '/v1/teams/a%2F../members', 400, 'E_BAD_KEY'],
    ['team %2e%2e', 'GET', '/v1/teams/%2e%2e/members', 404, 'E_NOT_FOUND'],
  ])('%s in the URL (%s %s) -> %i %s, nothing stored', async (_name, method, path, status, code) => {
    const res = await storesNothing(() => rawCall(method, path, h.token, method === 'POST' ? planBody : undefined));
    expectError(res, status, code);
  });

  it('versions and downloads URLs with a %2e%2e segment resolve to no route either', async () => {
    for (const path of [
      `/v1/experiments/${key}/artifacts/%2e%2e/versions`,
      `/v1/experiments/${key}/artifacts/model/versions/%2e%2e/downloads`,
    ]) {
      const res = await storesNothing(() => rawCall('POST', path, h.token, { sha256s: [sha256(blob)] }));
      expect(res.status, `${path}: ${res.text}`).toBeGreaterThanOrEqual(400);
      expect(res.status).toBeLessThan(500);
    }
  });

  // A completed job's artifacts named `../x`: jobs.test.ts ('complete, stop, get, list: bad bodies and parameters').
  it('tags and paths in bodies: a reuse tag, a job capture tag or path with `..` -> 400, nothing stored', async () => {
    for (const tag of ['..', 'a/b', '%2e%2e']) {
      await storesNothing(async () =>
        expectError(
          await h.call('POST', route.experiments(), {
            body: { key: uniqueKey(), reuse: [{ experiment: key, tag, as: 'in' }] },
          }),
          400,
          'E_BAD_TAG',
        ),
      );
    }
    const queued = uniqueKey('trav-job');
    await createExperiment(h, queued, { queued: true });
    for (const captures of [[{ tag: '..', path: 'out' }], [{ tag: 'out', path: '../out' }]]) {
      const res = await storesNothing(() =>
        h.call('POST', `/v1/experiments/${queued}/job`, {
          body: { queue: 'q', spec: { command: ['true'], captures } },
        }),
      );
      expect(res.status).toBe(400);
      expect(['E_BAD_TAG', 'E_BAD_PATH']).toContain((res.body as { error: { code: string } }).error.code);
    }
  });
});

describe("a secret in a run's argv or env showing up in the record", () => {
  // The CLI redacts before sending and the script never gets STUDIOML_TOKEN (cli/test/e2e/redaction.test.ts); here a
  // client that sends secrets anyway: the API redacts again before storing or answering.
  const slt = `slt_${'Z'.repeat(43)}`;
  const aws = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  const command = [
    'env',
    `AWS_SECRET_ACCESS_KEY=${aws}`,
    'python',
    'train.py',
    '--password=hunter2-pw',
    '--token',
    slt,
    `--resume-from=${slt}`,
    'AKIAIOSFODNN7EXAMPLE',
  ];
  const secrets = [aws, 'hunter2-pw', slt, 'AKIAIOSFODNN7EXAMPLE'];
  const clean = (s: string) => {
    for (const x of secrets) expect(s).not.toContain(x);
  };

  it('the experiment record (create, show, list) never holds the secrets, not even in the database', async () => {
    const key = uniqueKey('secret-run');
    const res = await h.call('POST', route.experiments(), {
      body: { key, command, git: { commit: 'abc', url: 'https://bob:gh-pass-123@git.example/r.git', dirty: false } },
    });
    expect(res.status, res.text).toBe(201);
    clean(res.text);
    expect(res.text).not.toContain('gh-pass-123');
    const show = await h.call('GET', route.experiment(key), viewer);
    clean(show.text);
    expect((show.body as { experiment: { command: string[] } }).experiment.command).toEqual([
      'env',
      'AWS_SECRET_ACCESS_KEY=***',
      'python',
      'train.py',
      '--password=***',
      '--token',
      '***',
      '--resume-from=***',
      '***',
    ]);
    clean((await h.call('GET', route.experiments(), viewer)).text);
    // Stored: the experiments table and the audit log hold none of it (only a job keeps the real argv, for its
    // worker: next test).
    const { rows } = (await wholeStore()) as { rows: Record<string, string[]> };
    for (const table of ['experiments', 'audit_log']) {
      clean(JSON.stringify(rows[table]));
      expect(JSON.stringify(rows[table])).not.toContain('gh-pass-123');
    }
    // Warnings a run reports are redacted the same way.
    const fin = await h.call('POST', route.finish(key), {
      body: { status: 'failed', exitCode: 1, warnings: [`upload with ${slt} failed`] },
    });
    clean(fin.text);
  });

  it('a queued job: every view but its own worker has the redacted argv; the environment is never accepted', async () => {
    const key = uniqueKey('secret-job');
    const queue = `q-secret-${process.pid}`;
    await createExperiment(h, key, { queued: true, command });
    const sub = await h.call<{ job: JobRecord }>('POST', `/v1/experiments/${key}/job`, {
      body: { queue, spec: { command } },
    });
    expect(sub.status, sub.text).toBe(201);
    clean(sub.text);
    for (const path of [`/v1/experiments/${key}/job`, `/v1/jobs?queue=${queue}`, route.experiment(key)]) {
      const res = await h.call('GET', path, viewer);
      expect(res.status, res.text).toBe(200);
      clean(res.text);
    }
    // The worker must run the real command: the lease (and only its job token) gets it.
    const lease = await h.call<{ lease: { token: string; job: JobRecord } }>('POST', `/v1/queues/${queue}/lease`, {
      body: { worker: { id: 'w' }, waitSeconds: 0 },
    });
    expect(lease.body.lease.job.spec.command).toEqual(command);
    const stop = await h.call('POST', `/v1/experiments/${key}/stop`, { body: { mode: 'stop' } });
    clean(stop.text);
    const audit = await h.call('GET', '/v1/audit?limit=1000');
    clean(audit.text);
    // An environment for the job is not part of the API: refused, nothing stored.
    const other = uniqueKey('secret-env');
    await createExperiment(h, other, { queued: true });
    await storesNothing(async () =>
      expectError(
        await h.call('POST', `/v1/experiments/${other}/job`, {
          body: { queue, spec: { command: ['true'], env: { AWS_SECRET_ACCESS_KEY: aws } } },
        }),
        400,
        'E_BAD_REQUEST',
      ),
    );
  });
});

describe("a blob whose bytes don't match its claimed hash", () => {
  // The local host hashes every upload before it becomes visible, so wrong bytes are never stored; on GCS the backend
  // re-hashes before a version may reference them (functions/test/gcp/authz-matrix.test.ts, function-host.test.ts).
  const claimed = bytes(300 * KiB, 601);
  const wrong = new Uint8Array(claimed);
  wrong[1000] = (wrong[1000] ?? 0) ^ 0xff;
  const small = text('the real small blob\n');
  const smallWrong = text('the fake small blob\n');

  it('is refused at upload (single and pack) and never served to another experiment of the team', async () => {
    const a = uniqueKey('poison-a');
    const b = uniqueKey('poison-b');
    await createExperiment(h, a);
    await createExperiment(h, b);
    const p = await plan(a, 'out', [claimed, small]);
    await storesNothing(async () => {
      expectError(
        await storageResult(await send(p.uploads[0]?.request as SignedRequest, wrong)),
        400,
        'E_HASH_MISMATCH',
      );
      expectError(
        await storageResult(await send(p.packs[0]?.request as SignedRequest, smallWrong)),
        400,
        'E_HASH_MISMATCH',
      );
      // Registering the refused pack records nothing: no pack object was stored.
      expectError(await registerPack(h, a, 'out', p.packs[0] as PlannedPack), 409, 'E_BLOB_MISSING');
    });
    // Experiment B of the same team: the hashes are missing (uploads requested), a commit finds no blob, and there
    // is no version whose download could be signed.
    const pb = await storesNothing(() => plan(b, 'in', [claimed, small]));
    expect(pb.present).toBe(0);
    expect(pb.uploads.map((u) => u.sha256)).toEqual([sha256(claimed)]);
    expect(pb.packs.flatMap((x) => x.members.map((m) => m.sha256))).toEqual([sha256(small)]);
    await storesNothing(async () => {
      const res = await commit(
        h,
        b,
        'in',
        manifestOf([
          { path: 'big.bin', data: claimed },
          { path: 'small.txt', data: small },
        ]),
      );
      expectError(res, 409, 'E_BLOB_MISSING');
    });
    expectError(
      await h.call('POST', route.downloads(b, 'in', 1), { body: { sha256s: [sha256(claimed)] } }),
      404,
      'E_NOT_FOUND',
    );
    // Once the right bytes arrive, B gets exactly them.
    expect((await send(pb.uploads[0]?.request as SignedRequest, claimed)).status).toBe(201);
    const pack = pb.packs[0] as PlannedPack;
    expect((await send(pack.request, packBody(pack, new Map([[sha256(small), small]])))).status).toBe(201);
    expect((await registerPack(h, b, 'in', pack)).status).toBe(200);
    const ok = await commit(
      h,
      b,
      'in',
      manifestOf([
        { path: 'big.bin', data: claimed },
        { path: 'small.txt', data: small },
      ]),
    );
    expect(ok.status, ok.text).toBe(201);
    const got = await send(await downloadUrl(b, 'in', 1, claimed));
    expect(Buffer.from(await got.arrayBuffer()).equals(Buffer.from(claimed))).toBe(true);
    const gotSmall = await send(await downloadUrl(b, 'in', 1, small));
    expect(gotSmall.status).toBe(206);
    expect(Buffer.from(await gotSmall.arrayBuffer()).equals(Buffer.from(small))).toBe(true);
  });
});
