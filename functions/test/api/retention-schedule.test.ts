/**
 * The scheduled retention run (issue 18): the `retention` task kind applies the saved policy of every team that has
 * one (or of the team its payload names), audits each team's run as the schedule, skips teams without a policy, and
 * one team's failure neither stops the others nor goes unnoticed (the task fails afterwards, so it is retried).
 */
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { homePaths } from '../../src/adapters/local/local-home.ts';
import type { AuditEntry, StudioError } from '../../src/contract/index.ts';
import type { CoreDeps } from '../../src/core/context.ts';
import { RETENTION_SCHEDULE_USER, type ScheduledRetentionResult } from '../../src/core/retention-schedule.ts';
import { runTask } from '../../src/core/task-kinds.ts';
import type { TaskRequest } from '../../src/core/task-queue.ts';
import { openLocalBackend } from '../../src/hosts/local-server/local-backend.ts';
import {
  dailyTaskName,
  nextDailyRun,
  startRetentionSchedule,
} from '../../src/hosts/local-server/retention-schedule.ts';
import {
  createExperiment,
  type Harness,
  publish,
  route,
  sleep,
  startHarness,
  TEAM,
  text,
  uniqueKey,
} from './helpers.ts';
import { auditOf, teamRoute } from './team-helpers.ts';

let h: Harness;
let deps: CoreDeps;
const BETA = `beta-${process.pid}`;
const GAMMA = `gamma-${process.pid}`;

beforeAll(async () => {
  h = await startHarness();
  deps = h.server.backend.deps;
  for (const id of [BETA, GAMMA]) expect((await h.call('POST', teamRoute.teams(), { body: { id } })).status).toBe(201);
});
afterAll(async () => {
  await h?.close();
});

/** A finished experiment of `team` with `n` versions of the mutable artifact `w` (each 2 bytes: `v1`, `v2` …). */
async function withVersions(team: string, n: number, project?: string): Promise<string> {
  const key = uniqueKey('rs');
  await createExperiment(h, key, project ? { project } : {}, { team });
  for (let i = 1; i <= n; i++) {
    // publish() runs as the local admin on its default team; give it the team through a thin wrapper.
    await publishTo(team, key, i);
  }
  const fin = await h.call('POST', route.finish(key), { team, body: { status: 'finished', exitCode: 0 } });
  expect(fin.status, fin.text).toBe(200);
  return key;
}

async function publishTo(team: string, key: string, i: number): Promise<void> {
  const call = h.call;
  const scoped: Harness = { ...h, call: (m, p, o = {}) => call(m, p, { team, ...o }) };
  await publish(scoped, key, 'w', [{ path: 'f.txt', data: text(`v${i}`) }]);
}

const versionsOf = async (team: string, key: string) =>
  (await deps.experiments.listVersions(team, key, 'w')).map((v) => v.version);

const setPolicy = async (team: string, body: Record<string, unknown>) => {
  const res = await h.call('PUT', '/v1/retention', { team, body });
  expect(res.status, res.text).toBe(200);
};

const scheduleEntries = async (team: string): Promise<AuditEntry[]> =>
  (await auditOf(h, team)).filter((e) => e.action === 'retention.apply');

describe('the retention task kind', () => {
  it('applies every team with a policy, audits each as the schedule, and leaves teams without one alone', async () => {
    const a = await withVersions(TEAM, 5);
    const alias = await h.call('PUT', `/v1/experiments/${a}/artifacts/w/aliases/best`, {
      team: TEAM,
      body: { version: 1 },
    });
    expect(alias.status, alias.text).toBe(201);
    const b = await withVersions(BETA, 4, 'p');
    const bOther = await withVersions(BETA, 3, 'q');
    const c = await withVersions(GAMMA, 3);
    await setPolicy(TEAM, { keepLast: 2 });
    await setPolicy(BETA, { project: 'p', keepLast: 1 });

    const r = (await runTask(deps, 'retention', {})) as unknown as ScheduledRetentionResult;
    expect(r).toMatchObject({
      outcome: 'applied',
      teams: 2,
      versionsDeleted: 2 + 3,
      bytes: 10,
      expired: 0,
      failed: [],
    });
    expect(r.perTeam.sort((x, y) => x.team.localeCompare(y.team))).toEqual(
      [
        { team: TEAM, versionsDeleted: 2, bytes: 4, expired: 0 },
        { team: BETA, versionsDeleted: 3, bytes: 6, expired: 0 },
      ].sort((x, y) => x.team.localeCompare(y.team)),
    );
    expect(await versionsOf(TEAM, a)).toEqual([1, 4, 5]); // @1 has an alias
    expect(await versionsOf(BETA, b)).toEqual([4]);
    expect(await versionsOf(BETA, bOther)).toEqual([1, 2, 3]); // project q has no policy, nor the team
    expect(await versionsOf(GAMMA, c)).toEqual([1, 2, 3]);

    for (const [team, deleted, bytes] of [
      [TEAM, 2, 4],
      [BETA, 3, 6],
    ] as const) {
      const entries = await scheduleEntries(team);
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        actor: { userId: RETENTION_SCHEDULE_USER, kind: 'personal' },
        target: team,
        details: { versionsDeleted: deleted, bytes, expired: 0 },
      });
    }
    expect(await scheduleEntries(GAMMA)).toEqual([]);

    // A second run finds nothing due: no deletion, no new audit entry.
    const again = (await runTask(deps, 'retention', {})) as unknown as ScheduledRetentionResult;
    expect(again).toMatchObject({ teams: 2, versionsDeleted: 0, bytes: 0 });
    expect(await scheduleEntries(TEAM)).toHaveLength(1);
  });

  it('with {team} applies that team only', async () => {
    const a = await withVersions(TEAM, 4);
    const b = await withVersions(BETA, 3, 'p');
    const r = (await runTask(deps, 'retention', { team: BETA })) as unknown as ScheduledRetentionResult;
    expect(r).toMatchObject({ teams: 1, versionsDeleted: 2, perTeam: [{ team: BETA, versionsDeleted: 2 }] });
    expect(await versionsOf(BETA, b)).toEqual([3]);
    expect(await versionsOf(TEAM, a)).toEqual([1, 2, 3, 4]);
    await runTask(deps, 'retention', { team: TEAM }); // leaves nothing due for the next test
  });

  it('a team whose run fails does not stop the others; the task fails afterwards with every result', async () => {
    const a = await withVersions(TEAM, 4);
    const broken: CoreDeps = {
      ...deps,
      experiments: {
        ...deps.experiments,
        listExperiments: async (team, q) => {
          if (team === BETA) throw new Error('disk on fire');
          return deps.experiments.listExperiments(team, q);
        },
      },
    };
    const err = (await runTask(broken, 'retention', {}).catch((e: unknown) => e)) as StudioError;
    expect(err).toMatchObject({ code: 'E_INTERNAL' });
    expect(err.message).toContain(`${BETA} (E_INTERNAL: internal error)`);
    expect(err.message).not.toContain('disk on fire'); // not a caller's business; kept as the cause
    expect((err.cause as Error).message).toBe('disk on fire');
    expect(err.details).toMatchObject({
      teams: 2,
      perTeam: [{ team: TEAM, versionsDeleted: 2 }],
      failed: [{ team: BETA, code: 'E_INTERNAL' }],
    });
    expect(await versionsOf(TEAM, a)).toEqual([3, 4]);
  });

  it('refuses payloads other than {} and {team}; a backend without policies is E_UNAVAILABLE', async () => {
    for (const bad of [{ team: 5 }, { team: '' }, { teams: [TEAM] }, null, []]) {
      await expect(runTask(deps, 'retention', bad)).rejects.toMatchObject({ code: 'E_BAD_REQUEST' });
    }
    const { retention: _r, ...without } = deps;
    await expect(runTask(without, 'retention', {})).rejects.toMatchObject({ code: 'E_UNAVAILABLE' });
  });
});

describe('the local schedule (studio-lite serve)', () => {
  it('the daily run is due at the next 03:17 local time, one task name per local day', () => {
    const at = (d: number, h: number, m: number) => new Date(2025, 0, d, h, m, 0, 0);
    expect(nextDailyRun(at(10, 1, 0))).toEqual(at(10, 3, 17));
    expect(nextDailyRun(at(10, 3, 17))).toEqual(at(11, 3, 17));
    expect(nextDailyRun(at(10, 23, 59))).toEqual(at(11, 3, 17));
    expect(nextDailyRun(new Date(2025, 11, 31, 12, 0))).toEqual(new Date(2026, 0, 1, 3, 17));
    expect(dailyTaskName(at(11, 3, 17))).toBe('retention-daily-2025-01-11');
  });

  it('enqueues a run at start and the next daily run, re-arms it on its timer, and stops', async () => {
    const seen: TaskRequest[] = [];
    const queue = {
      enqueue: async (t: TaskRequest) => {
        seen.push(t);
        return { created: true };
      },
    };
    let now = new Date(2025, 0, 10, 12, 0);
    const s = startRetentionSchedule(queue, { now: () => now, armEveryMs: 30 });
    expect(seen.map((t) => [t.kind, t.payload])).toEqual([
      ['retention', {}],
      ['retention', {}],
    ]);
    expect(seen[0]?.name).toMatch(/^retention-start-\d+-[0-9a-f]{8}$/);
    expect(seen[0]?.scheduleTime).toBeUndefined();
    expect(seen[1]).toMatchObject({ name: 'retention-daily-2025-01-11', scheduleTime: new Date(2025, 0, 11, 3, 17) });
    now = new Date(2025, 0, 11, 3, 18);
    await sleep(100);
    expect(seen.map((t) => t.name)).toContain('retention-daily-2025-01-12');
    s.stop();
    const n = seen.length;
    await sleep(100);
    expect(seen).toHaveLength(n);
  });

  it('only a backend opened with the schedule delivers retention runs; it applies the policies at its start', async () => {
    const key = await withVersions(GAMMA, 4);
    await setPolicy(GAMMA, { keepLast: 1 });
    // The harness's host is like a `run` or `ui`: a retention task in the queue is not its to deliver.
    await deps.tasks?.enqueue({
      name: `retention-by-hand-${process.pid}`,
      kind: 'retention',
      payload: { team: GAMMA },
    });
    await sleep(1500);
    expect(await versionsOf(GAMMA, key)).toEqual([1, 2, 3, 4]);

    const logged: unknown[] = [];
    const serve = openLocalBackend(h.home, {
      publicUrl: () => 'http://127.0.0.1:1',
      retentionSchedule: { log: (m, e) => logged.push([m, e]) },
    });
    try {
      const retentionRows = () => {
        const db = new Database(homePaths(h.home).db, { readonly: true });
        try {
          return db.prepare("SELECT name, state FROM task_queue WHERE kind = 'retention' ORDER BY name").all();
        } finally {
          db.close();
        }
      };
      const expected = [
        { name: `retention-by-hand-${process.pid}`, state: 'done' },
        { name: dailyTaskName(nextDailyRun(new Date())), state: 'pending' },
        { name: expect.stringMatching(/^retention-start-/), state: 'done' },
      ];
      // Both runs due at its start (the task left by the other host, and its own start run) are delivered, in turn.
      const deadline = Date.now() + 10_000;
      while (
        Date.now() < deadline &&
        retentionRows().filter((r) => (r as { state: string }).state === 'done').length < 2
      )
        await sleep(50);
      expect(retentionRows()).toEqual(expected);
      expect(await versionsOf(GAMMA, key)).toEqual([4]);
      const entries = await scheduleEntries(GAMMA);
      // One run deleted everything (runs take turns in one process): 3 of this experiment, 2 of the team's
      // experiment from the first test (3 versions, no policy until now); the second found nothing and wrote nothing.
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatchObject({
        actor: { userId: RETENTION_SCHEDULE_USER },
        details: { versionsDeleted: 5, bytes: 10 },
      });
      expect(logged).toEqual([]);
    } finally {
      await serve.close();
    }
  });
});
