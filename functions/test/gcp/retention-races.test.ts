// Retention on Firestore (emulator), through the API: applies racing on two API instances (two backends, each with
// its own Firestore client, as two Cloud Function instances) delete each version once and expire each experiment
// once; the counts of their reports and audit entries add up to what is gone. The SQLite side of the same property is
// in functions/test/api/retention.test.ts.
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createApiHandler } from '../../src/api/handler.ts';
import { readGcpConfig } from '../../src/config/gcp-config.ts';
import type { RetentionReport } from '../../src/contract/results.ts';
import type { CoreDeps } from '../../src/core/context.ts';
import { openGcpBackend } from '../../src/hosts/cloud-function/gcp-backend.ts';
import { mintMember } from './support/function-process.ts';

const host = inject('firestoreHost');
process.env.FIRESTORE_EMULATOR_HOST = host;

const run = randomBytes(4).toString('hex');
const projectId = `demo-sl-retention-races-${run}`;
const TEAM = 'team-r';
const STATS = { hashedFiles: 0, hashedBytes: 0, uploadedBlobs: 0, uploadedBytes: 0, skipped: [] };

let a: CoreDeps;
let b: CoreDeps;
let apis: ((req: Request) => Promise<Response>)[];
let token = '';

beforeAll(async () => {
  const cfg = readGcpConfig({ GOOGLE_CLOUD_PROJECT: projectId, STUDIO_BUCKET: `bkt-unused-${run}` });
  a = openGcpBackend(cfg);
  b = openGcpBackend(cfg);
  apis = [createApiHandler(a), createApiHandler(b)];
  token = await mintMember(a, { team: TEAM, userId: 'ada', role: 'admin' });
});
afterAll(async () => {
  await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE' });
});

async function call<T>(api: number, method: string, path: string, body?: unknown): Promise<T> {
  const res = await (apis[api] as (req: Request) => Promise<Response>)(
    new Request(`http://fn${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    }),
  );
  const text = await res.text();
  expect(res.status, `${method} ${path}: ${text}`).toBe(200);
  return JSON.parse(text) as T;
}

/** A finished experiment of `project` ended at `at`, with versions 1..n of mutable artifact `w` (made directly). */
async function experiment(project: string, key: string, n: number, at: string): Promise<void> {
  await a.experiments.createExperiment({
    team: TEAM,
    key,
    project,
    owner: 'ada',
    status: 'finished',
    command: [],
    cwd: null,
    host: null,
    git: null,
    createdAt: at,
    startedAt: at,
    finishedAt: at,
    exitCode: 0,
    signal: null,
    warnings: [],
    lineage: [],
  });
  for (let v = 1; v <= n; v++) {
    await a.experiments.commitVersion({
      team: TEAM,
      experiment: key,
      tag: 'w',
      mutable: true,
      digest: `${key}-${v}`,
      manifestSha256: `${key}-manifest-${v}`,
      files: 1,
      bytes: 100,
      stats: STATS,
      createdBy: 'ada',
      createdAt: at,
    });
  }
}

describe('concurrent applies on two API instances (Firestore)', () => {
  it.each([1, 2])('round %i: four applies delete each version once and expire each experiment once', async (round) => {
    const project = `p-${round}`;
    const now = new Date().toISOString();
    const rotated = Array.from({ length: 8 }, (_, i) => `rot-${round}-${i}`);
    const old = Array.from({ length: 3 }, (_, i) => `old-${round}-${i}`);
    await Promise.all([
      ...rotated.map((k) => experiment(project, k, 12, now)),
      ...old.map((k) => experiment(project, k, 2, '2024-01-01T00:00:00.000Z')),
    ]);
    await call(0, 'PUT', '/v1/retention', { project, keepLast: 2, expireDays: 30 });
    const auditBefore = await a.audit.list(TEAM, { limit: 1000 });

    const reports = await Promise.all(
      [0, 1, 0, 1].map((api) => call<RetentionReport>(api, 'POST', '/v1/retention/apply', { project })),
    );

    const each = reports.flatMap((r) => r.deletions.flatMap((d) => d.versions.map((v) => `${d.experiment}@${v}`)));
    expect(each.length, JSON.stringify(reports.map((r) => r.deletions))).toBe(8 * 10);
    expect(new Set(each)).toEqual(
      new Set(rotated.flatMap((k) => Array.from({ length: 10 }, (_, i) => `${k}@${i + 1}`))),
    );
    expect(reports.reduce((n, r) => n + r.versionsDeleted, 0)).toBe(80);
    expect(reports.reduce((n, r) => n + r.bytes, 0)).toBe(80 * 100);
    const expired = reports.flatMap((r) => r.expired);
    expect([...expired].sort(), JSON.stringify(reports.map((r) => r.expired))).toEqual([...old].sort());
    for (const k of rotated) {
      expect((await b.experiments.listVersions(TEAM, k, 'w')).map((v) => v.version)).toEqual([11, 12]);
    }
    for (const k of old) expect(await b.experiments.getExperiment(TEAM, k)).toBeNull();

    const seen = new Set(auditBefore.map((e) => e.id));
    const runs = (await a.audit.list(TEAM, { limit: 1000 })).filter((e) => !seen.has(e.id));
    expect(runs.every((e) => e.action === 'retention.apply' && e.target === project)).toBe(true);
    expect(runs).toHaveLength(reports.filter((r) => r.versionsDeleted > 0 || r.expired.length > 0).length);
    expect(runs.reduce((n, e) => n + (e.details.versionsDeleted as number), 0)).toBe(80);
    expect(runs.reduce((n, e) => n + (e.details.expired as number), 0)).toBe(3);
  });
});
