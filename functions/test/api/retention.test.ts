/**
 * Retention policies over HTTP (issue 18; core/retention.ts): GET/PUT/DELETE /v1/retention and POST
 * /v1/retention/apply on a real local host. Versions get their `createdAt` from the backend's clock (`deps.now`),
 * which the tests move to simulate a week of captures; everything else runs on the real clock. Each test works in a
 * project of its own (its policy and its applies name it), so the team-wide behaviour is tested on a second host.
 * The host runs with STUDIOML_GC_MIN_GRACE_SECONDS=0 so a blob GC run after an apply can use a grace of one second.
 */
import { existsSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { homePaths } from '../../src/adapters/local/local-home.ts';
import type { ErrorCode } from '../../src/contract/errors.ts';
import type { RetentionPolicy, VersionWithManifest } from '../../src/contract/model.ts';
import type { GcReport, RetentionReport } from '../../src/contract/results.ts';
import type {
  GcResponse,
  ListRetentionResponse,
  RetentionPolicyResponse,
  ShowExperimentResponse,
} from '../../src/contract/wire.ts';
import type { CoreDeps } from '../../src/core/context.ts';
import {
  blobKeyOf,
  bytes,
  type CallOptions,
  commit,
  createExperiment,
  expectError,
  type Harness,
  manifestOf,
  mintUserToken,
  packKeyOf,
  publish,
  route,
  sha256,
  sleep,
  startHarness,
  TEAM,
  text,
  uniqueKey,
  uploadBlobs,
} from './helpers.ts';
import { auditOf, leaseJobToken, teamRoute } from './team-helpers.ts';

const R = '/v1/retention';
const APPLY = '/v1/retention/apply';
const HOUR = 3600_000;
const DAY = 24 * HOUR;
/** Monday 2024-03-04 00:00 UTC: the simulated week's first capture. */
const S = Date.parse('2024-03-04T00:00:00.000Z');
/** The content of every version made by `capture` (each names it under a path of its own). */
const BLOB = text('a checkpoint that every simulated capture shares\n');

let h: Harness;
let deps: CoreDeps;
/** The backend's clock: null = real time. */
let clock: number | null = null;
const previousGrace = process.env.STUDIOML_GC_MIN_GRACE_SECONDS;

beforeAll(async () => {
  process.env.STUDIOML_GC_MIN_GRACE_SECONDS = '0';
  h = await startHarness();
  deps = h.server.backend.deps;
  const real = deps.now;
  deps.now = () => (clock === null ? real() : new Date(clock));
  // Uploaded once (real clock: signed URLs must not be born expired); any experiment of the team may commit it.
  const seed = uniqueKey('seed');
  await createExperiment(h, seed);
  await uploadBlobs(h, seed, 'w', [BLOB]);
});
afterAll(async () => {
  await h?.close();
  if (previousGrace === undefined) delete process.env.STUDIOML_GC_MIN_GRACE_SECONDS;
  else process.env.STUDIOML_GC_MIN_GRACE_SECONDS = previousGrace;
});

let projects = 0;
const project = () => {
  projects += 1;
  return `ret-${projects}`;
};
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
const minus = (xs: number[], ys: number[]) => xs.filter((x) => !ys.includes(x));

async function setPolicy(g: Harness, body: Record<string, unknown>, opts: CallOptions = {}): Promise<RetentionPolicy> {
  const res = await g.call<RetentionPolicyResponse>('PUT', R, { ...opts, body });
  expect(res.status, res.text).toBe(200);
  return res.body.policy as RetentionPolicy;
}

async function apply(g: Harness, body: Record<string, unknown>, opts: CallOptions = {}): Promise<RetentionReport> {
  const res = await g.call<RetentionReport>('POST', APPLY, { ...opts, body });
  expect(res.status, res.text).toBe(200);
  return res.body;
}

async function policies(g: Harness): Promise<RetentionPolicy[]> {
  const res = await g.call<ListRetentionResponse>('GET', R);
  expect(res.status, res.text).toBe(200);
  return res.body.policies;
}

/** A capture of `tag` at the backend's current clock: one file (BLOB) at a path of its own. Its version number. */
async function capture(g: Harness, key: string, tag: string, i: number, mutable = true): Promise<number> {
  const res = await commit(g, key, tag, manifestOf([{ path: `ckpt-${i}.bin`, data: BLOB }]), mutable);
  expect(res.status, res.text).toBe(201);
  return res.body.version.version;
}

/** A new experiment of `project` with `n` versions of mutable artifact `w`, finished unless `running`. */
async function withVersions(
  g: Harness,
  proj: string | null,
  n: number,
  o: { prefix?: string; running?: boolean; queued?: boolean } = {},
): Promise<string> {
  const key = uniqueKey(o.prefix ?? 'ret');
  await createExperiment(g, key, { project: proj, queued: o.queued ?? false });
  for (let i = 1; i <= n; i++) await capture(g, key, 'w', i);
  if (!o.running && !o.queued) await finish(g, key);
  return key;
}

async function finish(g: Harness, key: string): Promise<void> {
  const res = await g.call('POST', route.finish(key), { body: { status: 'finished', exitCode: 0 } });
  expect(res.status, res.text).toBe(200);
}

const versionsOf = async (g: Harness, key: string, tag = 'w') =>
  (await g.experiments.listVersions(TEAM, key, tag)).map((v) => v.version);

/** What an apply may change: policies, experiments, artifacts, versions, aliases, audit (read-only connection). */
function state(g: Harness): Record<string, unknown[]> {
  const db = new Database(homePaths(g.home).db, { readonly: true, fileMustExist: true });
  try {
    const all = (sql: string) => db.prepare(sql).all();
    return {
      policies: all('SELECT * FROM retention_policies ORDER BY 1, 2'),
      experiments: all('SELECT team, key, status FROM experiments ORDER BY team, key'),
      artifacts: all('SELECT team, experiment, tag, latest_version FROM artifacts ORDER BY team, experiment, tag'),
      versions: all('SELECT team, experiment, tag, version FROM versions ORDER BY team, experiment, tag, version'),
      aliases: all('SELECT * FROM aliases ORDER BY team, experiment, tag, name'),
      audit: all('SELECT id FROM audit_log ORDER BY team, id'),
    };
  } finally {
    db.close();
  }
}

const retentionAudit = async (g: Harness, target?: string) =>
  (await auditOf(g, TEAM))
    .filter((e) => e.action.startsWith('retention.') && (target === undefined || e.target === target))
    .reverse();

// ---------------------------------------------------------------------------------------------------------------

describe('rotation over a simulated week', () => {
  it('one capture an hour for 7 days; keepLast 3 + keepWithinHours 24 + keepDaily 7 keeps exactly 29 versions', async () => {
    const P = project();
    const key = uniqueKey('week');
    try {
      clock = S;
      await createExperiment(h, key, { project: P });
      await capture(h, key, 'config', 0, false); // an immutable artifact: never rotated
      // Version v at S + (v - 1) h: day d (1..7) = versions 24d-23 .. 24d; the last day starts with 145 (03-10 00:00).
      for (let v = 1; v <= 168; v++) {
        clock = S + (v - 1) * HOUR;
        expect(await capture(h, key, 'ckpt', v)).toBe(v);
      }
      clock = S + 7 * DAY - 30 * 60_000;
      await finish(h, key);
      await setPolicy(h, { project: P, keepLast: 3, keepWithinHours: 24, keepDaily: 7 });
      clock = S + 7 * DAY; // 2024-03-11 00:00: version 145 is exactly 24 h old (not within)

      // Kept: the newest of each day (24, 48, …, 168), everything created after 03-10 00:00 (146..168).
      const kept = [24, 48, 72, 96, 120, 144, ...range(146, 168)];
      const deleted = minus(range(1, 168), kept);
      expect(deleted).toHaveLength(139);

      const before = state(h);
      const files = (await h.snapshot()).files;
      const dry = await apply(h, { project: P, dryRun: true });
      expect(state(h)).toEqual(before);
      expect((await h.snapshot()).files).toEqual(files);

      const report = await apply(h, { project: P });
      expect(report).toEqual({
        dryRun: false,
        experiments: 1,
        expired: [],
        versionsDeleted: 139,
        bytes: 139 * BLOB.length,
        deletions: [{ experiment: key, tag: 'ckpt', versions: deleted }],
        protected: [],
        truncated: false,
      });
      expect(dry).toEqual({ ...report, dryRun: true });
      expect(await versionsOf(h, key, 'ckpt')).toEqual(kept);
      expect(await versionsOf(h, key, 'config')).toEqual([1]);

      // A second run finds nothing more to delete (and is not audited).
      const again = await apply(h, { project: P });
      expect(again).toMatchObject({ experiments: 1, versionsDeleted: 0, bytes: 0, deletions: [] });
    } finally {
      clock = null;
    }

    // Readers see only what is left: show lists the kept versions, a deleted one is 404, the latest unchanged.
    const show = await h.call<ShowExperimentResponse>('GET', route.experiment(key));
    expect(show.status, show.text).toBe(200);
    const ckpt = show.body.artifacts.find((a) => a.tag === 'ckpt');
    expect(ckpt?.latestVersion).toBe(168);
    expect(ckpt?.versions.map((v) => v.version)).toEqual([24, 48, 72, 96, 120, 144, ...range(146, 168)]);
    const gone = await h.call('GET', route.version(key, 'ckpt', 145));
    expectError(gone, 404, 'E_NOT_FOUND');
    expectError(
      await h.call('POST', route.downloads(key, 'ckpt', 1), { body: { sha256s: [sha256(BLOB)] } }),
      404,
      'E_NOT_FOUND',
    );
    const v146 = await h.call<{ version: VersionWithManifest }>('GET', route.version(key, 'ckpt', 146));
    expect(v146.status, v146.text).toBe(200);
    expect(v146.body.version.createdAt).toBe('2024-03-10T01:00:00.000Z');
    const latest = await h.call<{ version: VersionWithManifest }>('GET', route.version(key, 'ckpt', 'latest'));
    expect(latest.body.version.version).toBe(168);

    // One audit entry for the run that deleted something.
    const audit = await retentionAudit(h, P);
    expect(audit.map((e) => [e.action, e.details])).toEqual([
      [
        'retention.set',
        {
          project: P,
          keepLast: 3,
          keepEvery: null,
          keepWithinHours: 24,
          keepHourly: null,
          keepDaily: 7,
          expireDays: null,
        },
      ],
      ['retention.apply', { versionsDeleted: 139, bytes: 139 * BLOB.length, expired: 0, expiredKeys: [] }],
    ]);
    expect(audit[1]?.actor).toMatchObject({ userId: 'local', kind: 'personal' });
  });

  it('keepHourly 6 over captures every 10 minutes of the last day keeps minute 50 of the last six hours', async () => {
    const P = project();
    const key = uniqueKey('hourly');
    try {
      clock = S;
      await createExperiment(h, key, { project: P });
      // 144 captures on 03-04, one every 10 minutes: hour k holds versions 6k+1 .. 6k+6 (minute 50 = 6k+6).
      for (let v = 1; v <= 144; v++) {
        clock = S + (v - 1) * 600_000;
        await capture(h, key, 'w', v);
      }
      await finish(h, key);
      await setPolicy(h, { project: P, keepHourly: 6 });
      clock = S + DAY;
      const report = await apply(h, { project: P });
      expect(await versionsOf(h, key)).toEqual([114, 120, 126, 132, 138, 144]);
      expect(report.versionsDeleted).toBe(138);
    } finally {
      clock = null;
    }
  });
});

describe('what a policy never deletes', () => {
  it('a version with an alias or reused by another experiment (any project) stays, reported as protected', async () => {
    const P = project();
    const key = await withVersions(h, P, 10, { running: true });
    const alias = await h.call('PUT', `${route.versions(key, 'w').replace(/versions$/, 'aliases')}/best`, {
      body: { version: 3 },
    });
    expect(alias.status, alias.text).toBe(201);
    // The consumer is in no project: the policy does not cover it, its lineage still protects.
    const consumer = uniqueKey('consumer');
    await createExperiment(h, consumer, { reuse: [{ experiment: key, tag: 'w', version: 5, as: 'init' }] });
    await finish(h, key);
    await setPolicy(h, { project: P, keepLast: 2 });

    const dry = await apply(h, { project: P, dryRun: true });
    const report = await apply(h, { project: P });
    expect(report).toEqual({ ...dry, dryRun: false });
    expect(report.deletions).toEqual([{ experiment: key, tag: 'w', versions: [1, 2, 4, 6, 7, 8] }]);
    expect(report.protected).toEqual([
      { experiment: key, tag: 'w', version: 3, reason: 'alias' },
      { experiment: key, tag: 'w', version: 5, reason: 'lineage' },
    ]);
    expect(await versionsOf(h, key)).toEqual([3, 5, 9, 10]);
    const best = await h.call<{ version: VersionWithManifest }>('GET', `${route.versions(key, 'w')}/best`);
    expect(best.body.version.version).toBe(3);
    expect((await h.call('GET', route.version(key, 'w', 5))).status).toBe(200);
    expectError(await h.call('GET', route.version(key, 'w', 4)), 404, 'E_NOT_FOUND');
  });

  it('a running or queued experiment is neither rotated nor expired, however old', async () => {
    const P = project();
    const running = await withVersions(h, P, 5, { running: true, prefix: 'running' });
    const queued = await withVersions(h, P, 3, { queued: true, prefix: 'queued' });
    const ended = await withVersions(h, P, 2, { prefix: 'ended' });
    await setPolicy(h, { project: P, keepLast: 1, expireDays: 1 });
    let report: RetentionReport;
    try {
      clock = Date.now() + 30 * DAY;
      report = await apply(h, { project: P });
    } finally {
      clock = null;
    }
    expect(report.experiments).toBe(3);
    expect(report.expired).toEqual([ended]);
    expect(report.versionsDeleted).toBe(0);
    expect(report.protected).toEqual(
      expect.arrayContaining([
        { experiment: running, tag: null, version: null, reason: 'running' },
        { experiment: queued, tag: null, version: null, reason: 'running' },
      ]),
    );
    expect(report.protected).toHaveLength(2);
    expect(await versionsOf(h, running)).toEqual([1, 2, 3, 4, 5]);
    expect(await versionsOf(h, queued)).toEqual([1, 2, 3]);
    expect((await h.experiments.getExperiment(TEAM, running))?.status).toBe('running');
    expect((await h.experiments.getExperiment(TEAM, queued))?.status).toBe('queued');
    expect(await h.experiments.getExperiment(TEAM, ended)).toBeNull();
  });
});

describe('expireDays', () => {
  it('deletes experiments that ended too long ago, but not one holding an aliased or a reused version', async () => {
    const P = project();
    const aliasPath = (key: string, name: string) =>
      `${route.versions(key, 'w').replace(/versions$/, 'aliases')}/${name}`;
    let old = '';
    let aliased = '';
    let reused = '';
    let recent = '';
    let consumer = '';
    try {
      clock = S;
      old = await withVersions(h, P, 2, { prefix: 'old' });
      aliased = await withVersions(h, P, 2, { prefix: 'aliased' });
      expect((await h.call('PUT', aliasPath(aliased, 'keep'), { body: { version: 1 } })).status).toBe(201);
      reused = await withVersions(h, P, 2, { prefix: 'reused' });
      consumer = uniqueKey('consumer');
      await createExperiment(h, consumer, {
        project: P,
        reuse: [{ experiment: reused, tag: 'w', version: 1, as: 'x' }],
      });
      await finish(h, consumer);
      clock = S + 9 * DAY;
      recent = await withVersions(h, P, 1, { prefix: 'recent' });
      await setPolicy(h, { project: P, expireDays: 7 });
      clock = S + 10 * DAY;

      const before = state(h);
      const dry = await apply(h, { project: P, dryRun: true });
      expect(state(h)).toEqual(before);
      const report = await apply(h, { project: P });
      expect(report).toEqual({ ...dry, dryRun: false });
      // The consumer ended as long ago and holds nothing anyone needs: it goes too.
      expect([...report.expired].sort()).toEqual([consumer, old].sort());
      expect(report.protected).toEqual(
        expect.arrayContaining([
          { experiment: aliased, tag: 'w', version: 1, reason: 'alias' },
          { experiment: reused, tag: 'w', version: 1, reason: 'lineage' },
        ]),
      );
      expect(report.protected).toHaveLength(2);
      expect(report).toMatchObject({ experiments: 5, versionsDeleted: 0, deletions: [] });
    } finally {
      clock = null;
    }
    for (const gone of [old, consumer]) {
      expect(await h.experiments.getExperiment(TEAM, gone)).toBeNull();
      expectError(await h.call('GET', route.experiment(gone)), 404, 'E_NOT_FOUND');
    }
    // Held experiments keep every version (no keep rule: nothing rotated), the recent one is untouched.
    expect(await versionsOf(h, aliased)).toEqual([1, 2]);
    expect(await versionsOf(h, reused)).toEqual([1, 2]);
    expect(await versionsOf(h, recent)).toEqual([1]);
    const [, run] = await retentionAudit(h, P);
    expect(run?.action).toBe('retention.apply');
    expect(run?.details).toMatchObject({ versionsDeleted: 0, bytes: 0, expired: 2 });
    expect([...((run?.details.expiredKeys ?? []) as string[])].sort()).toEqual([consumer, old].sort());
  });

  it('an expired experiment kept for an alias still has its other versions rotated', async () => {
    const P = project();
    let key = '';
    try {
      clock = S;
      key = await withVersions(h, P, 5);
      expect(
        (
          await h.call('PUT', `${route.versions(key, 'w').replace(/versions$/, 'aliases')}/first`, {
            body: { version: 1 },
          })
        ).status,
      ).toBe(201);
      await setPolicy(h, { project: P, keepLast: 2, expireDays: 1 });
      clock = S + 3 * DAY;
      const report = await apply(h, { project: P });
      expect(report.expired).toEqual([]);
      expect(report.deletions).toEqual([{ experiment: key, tag: 'w', versions: [2, 3] }]);
      // Reported once, though it both holds the experiment and stays through the rotation (the rules keep 4, 5).
      expect(report.protected).toEqual([{ experiment: key, tag: 'w', version: 1, reason: 'alias' }]);
    } finally {
      clock = null;
    }
    expect(await versionsOf(h, key)).toEqual([1, 4, 5]);
  });

  it('an alias set while the run decided (it read none) goes with the expired experiment', async () => {
    const P = project();
    let key = '';
    const aliases = deps.aliases;
    if (!aliases) throw new Error('the local backend has aliases');
    try {
      clock = S;
      key = await withVersions(h, P, 2);
      await setPolicy(h, { project: P, expireDays: 1 });
      clock = S + 2 * DAY;
      // The run reads the experiment's aliases (none), then someone sets one before the delete.
      deps.aliases = new Proxy(aliases, {
        get(target, prop, receiver) {
          if (prop === 'listAliases') {
            return async (team: string, experiment: string, tag?: string) => {
              const seen = await target.listAliases(team, experiment, tag);
              if (experiment === key) {
                await target.setAlias({
                  team,
                  experiment,
                  tag: 'w',
                  name: 'late',
                  version: 1,
                  updatedAt: new Date().toISOString(),
                  updatedBy: 'local',
                });
              }
              return seen;
            };
          }
          return Reflect.get(target, prop, receiver);
        },
      });
      const report = await apply(h, { project: P });
      expect(report.expired).toEqual([key]);
    } finally {
      deps.aliases = aliases;
      clock = null;
    }
    expect(await h.experiments.getExperiment(TEAM, key)).toBeNull();
    expect(await aliases.listAliases(TEAM, key)).toEqual([]);
  });
});

describe('dry runs and previews', () => {
  it('`rules` previews a policy (dry run only) without saving or using it; without dryRun it is refused', async () => {
    const P = project();
    const key = await withVersions(h, P, 6);
    await setPolicy(h, { project: P, keepLast: 5 });
    const bare = project();
    const other = await withVersions(h, bare, 3);
    const before = state(h);
    const preview = await apply(h, { project: P, dryRun: true, rules: { keepLast: 2, keepEvery: 2 } });
    expect(preview).toMatchObject({
      dryRun: true,
      experiments: 1,
      versionsDeleted: 2,
      bytes: 2 * BLOB.length,
      // keepLast 2: 5, 6; keepEvery 2: 2, 4, 6.
      deletions: [{ experiment: key, tag: 'w', versions: [1, 3] }],
    });
    // The saved policy (keepLast 5) would delete only version 1.
    expect((await apply(h, { project: P, dryRun: true })).deletions).toEqual([
      { experiment: key, tag: 'w', versions: [1] },
    ]);
    // A preview of a project without any policy.
    expect((await apply(h, { project: bare, dryRun: true })).experiments).toBe(0);
    expect(
      (await apply(h, { project: bare, dryRun: true, rules: { keepLast: 1, expireDays: null } })).deletions,
    ).toEqual([{ experiment: other, tag: 'w', versions: [1, 2] }]);
    expect(state(h)).toEqual(before);

    const refused = await h.call<{ error: { message: string } }>('POST', APPLY, {
      body: { project: P, rules: { keepLast: 1 } },
    });
    expectError(refused, 400, 'E_BAD_REQUEST');
    expect(refused.body.error.message).toContain('dryRun');
    expectError(
      await h.call('POST', APPLY, { body: { project: P, dryRun: false, rules: { keepLast: 1 } } }),
      400,
      'E_BAD_REQUEST',
    );
    expect(state(h)).toEqual(before);
    expect(await versionsOf(h, key)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('large reports', () => {
  it('over 1,000 entries: `protected` and `deletions` are cut at 1,000 and flagged, the counts stay whole', async () => {
    const P = project();
    const at = new Date().toISOString();
    const record = (key: string, status: 'running' | 'finished') => ({
      team: TEAM,
      key,
      project: P,
      owner: 'local',
      status,
      command: [],
      cwd: null,
      host: null,
      git: null,
      createdAt: at,
      startedAt: at,
      finishedAt: status === 'finished' ? at : null,
      exitCode: status === 'finished' ? 0 : null,
      signal: null,
      warnings: [],
      lineage: [],
    });
    // 1,001 running experiments (one protected entry each) and one finished one with 1,002 artifacts of 2 versions.
    for (let i = 0; i < 1001; i++) await h.experiments.createExperiment(record(`big-${P}-${i}`, 'running'));
    const wide = `big-${P}-wide`;
    await h.experiments.createExperiment(record(wide, 'finished'));
    for (let a = 0; a < 1002; a++) {
      for (let v = 1; v <= 2; v++) {
        await h.experiments.commitVersion({
          team: TEAM,
          experiment: wide,
          tag: `t${a}`,
          mutable: true,
          digest: `${a}-${v}`,
          manifestSha256: sha256(`${a}-${v}`),
          files: 1,
          bytes: 7,
          stats: { hashedFiles: 0, hashedBytes: 0, uploadedBlobs: 0, uploadedBytes: 0, skipped: [] },
          createdBy: 'local',
          createdAt: at,
        });
      }
    }
    await setPolicy(h, { project: P, keepLast: 1 });
    let report: RetentionReport;
    try {
      report = await apply(h, { project: P, dryRun: true });
    } finally {
      // Their versions name manifests that were never stored, which a GC run (below) would refuse.
      await h.experiments.deleteExperiment(TEAM, wide);
      for (let i = 0; i < 1001; i++) await h.experiments.deleteExperiment(TEAM, `big-${P}-${i}`);
    }
    expect(report.experiments).toBe(1002);
    expect(report.protected).toHaveLength(1000);
    expect(report.deletions).toHaveLength(1000);
    expect(report.truncated).toBe(true);
    expect(report.versionsDeleted).toBe(1002);
    expect(report.bytes).toBe(1002 * 7);
  }, 60_000);
});

describe('concurrent applies', () => {
  it('three applies at once delete each version once and expire each experiment once', async () => {
    const P = project();
    const rotated: string[] = [];
    const old: string[] = [];
    try {
      clock = S;
      for (let i = 0; i < 4; i++) old.push(await withVersions(h, P, 2, { prefix: 'old' }));
    } finally {
      clock = null;
    }
    for (let i = 0; i < 12; i++) rotated.push(await withVersions(h, P, 6, { prefix: 'rot' }));
    await setPolicy(h, { project: P, keepLast: 2, expireDays: 30 });
    const auditBefore = (await retentionAudit(h, P)).length;

    // SQLite answers synchronously, so three requests would run one after the other; every store call waits 0-3 ms
    // first, which interleaves the runs: each reads versions the others are deleting.
    const store = deps.experiments;
    const shortfalls: number[] = [];
    deps.experiments = new Proxy(store, {
      get(target, prop, receiver) {
        const f = Reflect.get(target, prop, receiver);
        if (typeof f !== 'function') return f;
        return async (...args: unknown[]) => {
          await new Promise((r) => setTimeout(r, Math.random() * 3));
          const out = await f.apply(target, args);
          if (prop === 'deleteVersions') shortfalls.push((args[3] as number[]).length - (out as number[]).length);
          return out;
        };
      },
    });
    let reports: RetentionReport[];
    try {
      reports = await Promise.all([0, 1, 2].map(() => apply(h, { project: P })));
    } finally {
      deps.experiments = store;
    }
    // The race happened: some run asked to delete versions another run had already deleted.
    expect(shortfalls.some((n) => n > 0)).toBe(true);
    const sum = (f: (r: RetentionReport) => number) => reports.reduce((n, r) => n + f(r), 0);
    expect(sum((r) => r.versionsDeleted)).toBe(12 * 4);
    expect(sum((r) => r.bytes)).toBe(12 * 4 * BLOB.length);
    const each = reports.flatMap((r) => r.deletions.flatMap((d) => d.versions.map((v) => `${d.experiment}@${v}`)));
    expect(each).toHaveLength(48);
    expect(new Set(each).size).toBe(48);
    expect(new Set(each)).toEqual(new Set(rotated.flatMap((k) => [1, 2, 3, 4].map((v) => `${k}@${v}`))));
    const expired = reports.flatMap((r) => r.expired);
    expect([...expired].sort()).toEqual([...old].sort());
    for (const k of rotated) expect(await versionsOf(h, k)).toEqual([5, 6]);
    for (const k of old) expect(await h.experiments.getExperiment(TEAM, k)).toBeNull();

    // One audit entry per run that deleted something, with that run's counts.
    const runs = (await retentionAudit(h, P)).slice(auditBefore);
    expect(runs.every((e) => e.action === 'retention.apply')).toBe(true);
    expect(runs).toHaveLength(reports.filter((r) => r.versionsDeleted > 0 || r.expired.length > 0).length);
    expect(runs.reduce((n, e) => n + (e.details.versionsDeleted as number), 0)).toBe(48);
    expect(runs.reduce((n, e) => n + (e.details.expired as number), 0)).toBe(4);
  });
});

describe('hostile bodies: a stable code, nothing stored, nothing audited', () => {
  const bad: [string, unknown, ErrorCode][] = [
    ['keepLast 0', { keepLast: 0 }, 'E_BAD_REQUEST'],
    ['keepLast negative', { keepLast: -1 }, 'E_BAD_REQUEST'],
    ['keepLast a float', { keepLast: 1.5 }, 'E_BAD_REQUEST'],
    ['keepLast huge', { keepLast: 1e7 }, 'E_BAD_REQUEST'],
    ['keepLast 1e300', { keepLast: 1e300 }, 'E_BAD_REQUEST'],
    ['keepLast a string', { keepLast: '3' }, 'E_BAD_REQUEST'],
    ['keepLast true', { keepLast: true }, 'E_BAD_REQUEST'],
    ['keepEvery 1', { keepEvery: 1 }, 'E_BAD_REQUEST'],
    ['keepEvery a float', { keepEvery: 2.5 }, 'E_BAD_REQUEST'],
    ['keepWithinHours 0', { keepWithinHours: 0 }, 'E_BAD_REQUEST'],
    ['keepWithinHours negative', { keepWithinHours: -2 }, 'E_BAD_REQUEST'],
    ['keepWithinHours huge', { keepWithinHours: 1e9 }, 'E_BAD_REQUEST'],
    ['keepHourly 0', { keepHourly: 0 }, 'E_BAD_REQUEST'],
    ['keepHourly a float', { keepHourly: 0.5 }, 'E_BAD_REQUEST'],
    ['keepDaily negative', { keepDaily: -7 }, 'E_BAD_REQUEST'],
    ['expireDays 0', { expireDays: 0 }, 'E_BAD_REQUEST'],
    ['expireDays negative', { expireDays: -1 }, 'E_BAD_REQUEST'],
    ['expireDays huge', { expireDays: 1e6 }, 'E_BAD_REQUEST'],
    ['an extra field', { keepLast: 3, keepWeekly: 4 }, 'E_BAD_REQUEST'],
    ['__proto__', JSON.parse('{"keepLast":3,"__proto__":{"x":1}}'), 'E_BAD_REQUEST'],
    ['no rule at all', {}, 'E_BAD_REQUEST'],
    ['only a project', { project: 'vision' }, 'E_BAD_REQUEST'],
    ['every rule null', { keepLast: null, expireDays: null }, 'E_BAD_REQUEST'],
    ['an empty project', { project: '', keepLast: 3 }, 'E_BAD_REQUEST'],
    ['a project of 129 characters', { project: 'p'.repeat(129), keepLast: 3 }, 'E_BAD_REQUEST'],
    ['a project no experiment can have (space)', { project: 'a b', keepLast: 3 }, 'E_BAD_KEY'],
    ['a project no experiment can have (slash)', { project: 'a/b', keepLast: 3 }, 'E_BAD_KEY'],
    ['a project no experiment can have (..)', { project: '..', keepLast: 3 }, 'E_BAD_KEY'],
    ['an array', [{ keepLast: 3 }], 'E_BAD_REQUEST'],
    ['null', null, 'E_BAD_REQUEST'],
  ];

  it.each(bad)('PUT %s -> %s', async (_name, body, code) => {
    const before = state(h);
    expectError(await h.call('PUT', R, { body }), 400, code);
    expect(state(h)).toEqual(before);
  });

  it('PUT malformed JSON -> E_BAD_JSON', async () => {
    const before = state(h);
    expectError(await h.call('PUT', R, { raw: '{"keepLast": 3' }), 400, 'E_BAD_JSON');
    expect(state(h)).toEqual(before);
  });

  const badApply: [string, unknown, ErrorCode][] = [
    ['dryRun a string', { dryRun: 'yes' }, 'E_BAD_REQUEST'],
    ['an extra field', { dryRun: true, force: true }, 'E_BAD_REQUEST'],
    ['rules without dryRun', { rules: { keepLast: 1 } }, 'E_BAD_REQUEST'],
    ['rules with a bad number', { dryRun: true, rules: { keepLast: 0 } }, 'E_BAD_REQUEST'],
    ['rules with an extra field', { dryRun: true, rules: { keepLast: 1, nope: 1 } }, 'E_BAD_REQUEST'],
    ['a numeric project', { project: 5 }, 'E_BAD_REQUEST'],
    ['a project no experiment can have', { project: 'x y', dryRun: true }, 'E_BAD_KEY'],
    ['an array', [], 'E_BAD_REQUEST'],
  ];

  it.each(badApply)('POST apply %s -> %s', async (_name, body, code) => {
    const P = project();
    await setPolicy(h, { project: P, keepLast: 1 });
    const key = await withVersions(h, P, 2);
    const before = state(h);
    expectError(await h.call('POST', APPLY, { body }), 400, code);
    expect(state(h)).toEqual(before);
    expect(await versionsOf(h, key)).toEqual([1, 2]);
  });

  it('DELETE with a project no experiment can have -> E_BAD_KEY', async () => {
    const before = state(h);
    expectError(await h.call('DELETE', `${R}?project=${encodeURIComponent('a/b')}`), 400, 'E_BAD_KEY');
    expect(state(h)).toEqual(before);
  });
});

describe('authorization of every route', () => {
  type Who = 'none' | 'expired' | 'otherTeam' | 'removed' | 'viewer' | 'editor' | 'worker' | 'job' | 'admin';
  const creds = {} as Record<Who, CallOptions>;
  let P = '';
  let key = '';

  beforeAll(async () => {
    creds.none = { token: null };
    creds.expired = {
      token: await mintUserToken(h, 'ret-expired', { [TEAM]: 'admin' }, { expiresAt: new Date(Date.now() - 60_000) }),
    };
    creds.otherTeam = { token: await mintUserToken(h, 'ret-mallory', { 'ret-other': 'admin' }), team: TEAM };
    creds.removed = { token: await mintUserToken(h, 'ret-rex', { [TEAM]: 'admin' }) };
    const removed = await h.call('DELETE', teamRoute.member(TEAM, 'ret-rex'));
    expect(removed.status, removed.text).toBe(200);
    creds.viewer = { token: await mintUserToken(h, 'ret-vera', { [TEAM]: 'viewer' }) };
    creds.editor = { token: await mintUserToken(h, 'ret-eddie', { [TEAM]: 'editor' }) };
    const w = await h.call<{ secret: string }>('POST', '/v1/worker-tokens', { body: { queue: 'ret-q' } });
    expect(w.status, w.text).toBe(201);
    creds.worker = { token: w.body.secret };
    creds.job = { token: await leaseJobToken(h, uniqueKey('ret-job'), {}) };
    creds.admin = { token: await mintUserToken(h, 'ret-ada', { [TEAM]: 'admin' }) };
    P = project();
    await setPolicy(h, { project: P, keepLast: 1 });
    key = await withVersions(h, P, 3);
  });

  const U = [401, 'E_UNAUTHENTICATED'] as const;
  const X = [401, 'E_TOKEN_EXPIRED'] as const;
  const F = [403, 'E_FORBIDDEN'] as const;
  const OK = [200] as const;
  type Want = readonly [number, ErrorCode?];
  const routes: [string, string, (p: string) => unknown, boolean][] = [
    ['GET', R, () => undefined, false],
    ['POST', APPLY, (p) => ({ project: p, dryRun: true }), false],
    ['PUT', R, (p) => ({ project: p, keepLast: 2 }), true],
    ['DELETE', R, () => undefined, true],
    ['POST', APPLY, (p) => ({ project: p }), true],
  ];
  //                                                  GET  dry  PUT DELETE apply
  const table: [Who, Want[]][] = [
    ['none', [U, U, U, U, U]],
    ['expired', [X, X, X, X, X]],
    ['otherTeam', [F, F, F, F, F]],
    ['removed', [F, F, F, F, F]],
    ['worker', [F, F, F, F, F]],
    ['job', [F, F, F, F, F]],
    ['viewer', [OK, OK, F, F, F]],
    ['editor', [OK, OK, F, F, F]],
  ];

  it.each(table)('%s', async (who, wants) => {
    for (const [i, [method, path, body, _writes]] of routes.entries()) {
      const want = wants[i] as Want;
      const url = method === 'DELETE' ? `${path}?project=${P}` : path;
      const before = state(h);
      const res = await h.call<ListRetentionResponse & RetentionReport>(method, url, {
        ...creds[who],
        body: body(P),
      });
      if (want[1]) expectError(res, want[0], want[1]);
      else {
        expect(res.status, `${who} ${method} ${path}: ${res.text}`).toBe(want[0]);
        if (method === 'GET') expect(res.body.policies.map((p) => p.project)).toContain(P);
        else expect(res.body).toMatchObject({ dryRun: true, versionsDeleted: 2 });
      }
      expect(state(h), `${who} ${method} ${path} changed something`).toEqual(before);
    }
    expect(await versionsOf(h, key)).toEqual([1, 2, 3]);
  });

  it('admin: every route, each doing its work', async () => {
    const a = creds.admin;
    expect((await h.call<ListRetentionResponse>('GET', R, a)).body.policies.map((p) => p.project)).toContain(P);
    expect(await apply(h, { project: P, dryRun: true }, a)).toMatchObject({ versionsDeleted: 2 });
    const set = await setPolicy(h, { project: P, keepLast: 2 }, a);
    expect(set).toMatchObject({ project: P, keepLast: 2, updatedBy: 'ret-ada' });
    expect(await apply(h, { project: P }, a)).toMatchObject({ versionsDeleted: 1 });
    expect(await versionsOf(h, key)).toEqual([2, 3]);
    const cleared = await h.call<RetentionPolicyResponse>('DELETE', `${R}?project=${P}`, a);
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.body.policy).toMatchObject({ project: P, keepLast: 2 });
    expect((await retentionAudit(h, P)).slice(-3).map((e) => [e.action, e.actor.userId])).toEqual([
      ['retention.set', 'ret-ada'],
      ['retention.apply', 'ret-ada'],
      ['retention.clear', 'ret-ada'],
    ]);
  });

  it('a member of another team without X-Studio-Team works on its own team, never on this one', async () => {
    const mallory = { token: creds.otherTeam.token };
    const before = await policies(h);
    const set = await setPolicy(h, { keepLast: 1 }, mallory);
    expect(set).toMatchObject({ team: 'ret-other', project: null });
    expect(await policies(h)).toEqual(before);
    const report = await apply(h, {}, mallory);
    expect(report).toMatchObject({ experiments: 0, versionsDeleted: 0 });
  });
});

describe('blob GC after an apply', () => {
  /** Whether the team still holds the blob: recorded, not being deleted, its object (or pack) present. */
  async function stored(sha: string): Promise<boolean> {
    const r = (await h.blobIndex.listBlobs(TEAM, { after: undefined, limit: 100_000 })).find((b) => b.sha256 === sha);
    if (!r || r.deleting) return false;
    return existsSync(h.fileOfKey(r.pack ? packKeyOf(TEAM, r.pack.id) : blobKeyOf(TEAM, sha)));
  }
  async function gc(): Promise<GcReport> {
    const res = await h.call<GcResponse>('POST', '/v1/gc', { body: { graceSeconds: 1 } });
    expect(res.status, res.text).toBe(200);
    return res.body.gc;
  }
  async function afterGrace(report: GcReport): Promise<void> {
    const wait = Date.parse(report.startedAt) + 1100 - Date.now();
    if (wait > 0) await sleep(wait);
  }

  it('frees exactly the blobs only the deleted versions referenced (two runs, with the grace)', async () => {
    // What earlier tests left unreferenced is freed first, so the counts below are this test's.
    await afterGrace(await gc());
    await gc();

    const P = project();
    const key = uniqueKey('gc');
    await createExperiment(h, key, { project: P });
    const shared = bytes(3000, 301);
    const own = [1, 2, 3, 4].map((i) => bytes(4000 + i, 310 + i));
    const manifests: string[] = [];
    for (const data of own) {
      await publish(h, key, 'w', [
        { path: 'shared.bin', data: shared },
        { path: 'own.bin', data },
      ]);
      const v = await h.call<{ version: VersionWithManifest }>('GET', route.version(key, 'w', 'latest'));
      manifests.push(v.body.version.manifestSha256);
    }
    await finish(h, key);
    await setPolicy(h, { project: P, keepLast: 1 });
    const report = await apply(h, { project: P });
    expect(report.versionsDeleted).toBe(3);
    expect(report.bytes).toBe(3 * 3000 + 4001 + 4002 + 4003);

    const first = await gc();
    // own.bin of versions 1-3 and their three manifests.
    expect(first.condemned.blobs).toBe(6);
    expect(first.deleted.blobs).toBe(0);
    await afterGrace(first);
    const second = await gc();
    expect(second.deleted).toEqual(first.condemned);
    for (const data of own.slice(0, 3)) expect(await stored(sha256(data))).toBe(false);
    for (const m of manifests.slice(0, 3)) expect(await stored(m)).toBe(false);
    expect(await stored(sha256(own[3] as Uint8Array))).toBe(true);
    expect(await stored(manifests[3] as string)).toBe(true);
    expect(await stored(sha256(shared))).toBe(true);
    expect(await stored(sha256(BLOB))).toBe(true); // still named by the kept versions of earlier tests
    const v4 = await h.call<{ version: VersionWithManifest }>('GET', route.version(key, 'w', 4));
    expect(v4.status, v4.text).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------------------------

describe('team and project policies (a host of their own)', () => {
  let t: Harness;
  beforeAll(async () => {
    t = await startHarness();
    const seed = uniqueKey('seed');
    await createExperiment(t, seed);
    await uploadBlobs(t, seed, 'w', [BLOB]);
    await finish(t, seed);
  });
  afterAll(async () => {
    await t?.close();
  });

  it('set, show, replace, clear; a project policy replaces the team policy for its experiments', async () => {
    expect(await policies(t)).toEqual([]);
    const team = await setPolicy(t, { keepLast: 1, expireDays: 365 });
    expect(team).toEqual({
      team: TEAM,
      project: null,
      keepLast: 1,
      keepEvery: null,
      keepWithinHours: null,
      keepHourly: null,
      keepDaily: null,
      expireDays: 365,
      updatedAt: expect.any(String),
      updatedBy: 'local',
    });
    const vision = await setPolicy(t, { project: 'vision', expireDays: 365 });
    const nlp = await setPolicy(t, { project: 'nlp', keepLast: 3 });
    expect(await policies(t)).toEqual([team, nlp, vision]);

    const a = await withVersions(t, 'vision', 4, { prefix: 'a' });
    const b = await withVersions(t, 'nlp', 5, { prefix: 'b' });
    const c = await withVersions(t, null, 3, { prefix: 'c' });
    const d = await withVersions(t, 'misc', 2, { prefix: 'd' });

    // A team-wide preview of other team rules: projects with their own policy keep it.
    const preview = await apply(t, { dryRun: true, rules: { keepLast: 2 } });
    const byKey = (r: RetentionReport) => Object.fromEntries(r.deletions.map((x) => [x.experiment, x.versions]));
    // d (2 versions) keeps both under keepLast 2; a keeps its own policy (no keep rule).
    expect(byKey(preview)).toEqual({ [b]: [1, 2], [c]: [1] });
    // A preview of one project.
    expect(byKey(await apply(t, { dryRun: true, project: 'vision', rules: { keepLast: 1 } }))).toEqual({
      [a]: [1, 2, 3],
    });

    const report = await apply(t, {});
    // vision: only expireDays (its own policy replaces the team's keepLast 1, it is not merged with it).
    expect(byKey(report)).toEqual({ [b]: [1, 2], [c]: [1, 2], [d]: [1] });
    expect(report.experiments).toBe(5); // a, b, c, d and the seed (team policy)
    expect(await versionsOf(t, a)).toEqual([1, 2, 3, 4]);
    expect(await versionsOf(t, b)).toEqual([3, 4, 5]);
    expect(await versionsOf(t, c)).toEqual([3]);
    expect(await versionsOf(t, d)).toEqual([2]);

    // A set replaces the whole policy.
    const replaced = await setPolicy(t, { keepDaily: 2 });
    expect(replaced).toMatchObject({ project: null, keepLast: null, keepDaily: 2, expireDays: null });
    expect((await policies(t))[0]).toEqual(replaced);

    const cleared = await t.call<RetentionPolicyResponse>('DELETE', `${R}?project=nlp`);
    expect(cleared.status, cleared.text).toBe(200);
    expect(cleared.body.policy).toEqual(nlp);
    const none = await t.call<RetentionPolicyResponse>('DELETE', `${R}?project=nlp`);
    expect(none.status, none.text).toBe(200);
    expect(none.body.policy).toBeNull();
    const clearedTeam = await t.call<RetentionPolicyResponse>('DELETE', R);
    expect(clearedTeam.body.policy).toEqual(replaced);
    expect(await policies(t)).toEqual([vision]);

    const audit = (await auditOf(t, TEAM)).filter((e) => e.action.startsWith('retention.')).reverse();
    expect(audit.map((e) => [e.action, e.target])).toEqual([
      ['retention.set', TEAM],
      ['retention.set', 'vision'],
      ['retention.set', 'nlp'],
      ['retention.apply', TEAM],
      ['retention.set', TEAM],
      ['retention.clear', 'nlp'],
      ['retention.clear', TEAM],
    ]);
    expect(audit[0]?.details).toEqual({
      project: null,
      keepLast: 1,
      keepEvery: null,
      keepWithinHours: null,
      keepHourly: null,
      keepDaily: null,
      expireDays: 365,
    });
    expect(audit[3]?.details).toEqual({ versionsDeleted: 5, bytes: 5 * BLOB.length, expired: 0, expiredKeys: [] });
    expect(audit[5]?.details).toEqual({});
  });
});
