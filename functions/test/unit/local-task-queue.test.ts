import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { describe, expect, it, type TestContext } from 'vitest';
import { createLocalTaskQueue, type LocalTaskQueueOptions } from '../../src/adapters/local/local-task-queue.ts';
import { openSqliteDb } from '../../src/adapters/local/sqlite-db.ts';
import { sleep, uid } from '../conformance/fixtures.ts';
import { testTaskQueue } from '../conformance/task-queue-suite.ts';

const fast = { minBackoffMs: 50, maxBackoffMs: 200, pollMs: 200 } satisfies Partial<LocalTaskQueueOptions>;
const KIND = 'test';

testTaskQueue({
  name: 'local sqlite scheduler',
  async make(target) {
    const dir = await mkdtemp(join(tmpdir(), 'sl-tq-'));
    const db = openSqliteDb(join(dir, 'tasks.db'));
    const queue = createLocalTaskQueue({ ...fast, db, dispatch: target });
    return {
      queue,
      async cleanup() {
        await queue.close();
        db.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
});

/** Per test: a temp db and queues on it, all closed and removed when the test ends (tests run concurrently). */
async function scope(ctx: TestContext) {
  const cleanups: (() => Promise<void>)[] = [];
  ctx.onTestFinished(async () => {
    for (const c of cleanups.reverse()) await c();
  });
  const dir = await mkdtemp(join(tmpdir(), 'sl-tq-'));
  cleanups.push(() => rm(dir, { recursive: true, force: true }));
  return {
    path: join(dir, 'tasks.db'),
    open(path: string, dispatch: LocalTaskQueueOptions['dispatch'], over: Partial<LocalTaskQueueOptions> = {}) {
      // One connection per queue, as one per process.
      const db = openSqliteDb(path);
      const q = createLocalTaskQueue({ ...fast, db, dispatch, ...over });
      cleanups.push(async () => {
        await q.close();
        db.close();
      });
      return q;
    },
  };
}

describe.concurrent('local task queue extras', () => {
  it('a task pending at close is delivered after reopening, and its name stays taken', async (ctx) => {
    const { path, open } = await scope(ctx);
    const first: unknown[] = [];
    const q1 = open(path, async (_r, b) => void first.push(b));
    const name = uid('t');
    await q1.enqueue({ name, kind: KIND, payload: { name }, scheduleTime: new Date(Date.now() + 400) });
    await q1.close();
    const second: unknown[] = [];
    const q2 = open(path, async (_r, b) => void second.push(b));
    expect(await q2.enqueue({ name, kind: KIND, payload: { again: true } })).toEqual({ created: false });
    await sleep(800);
    expect(first).toEqual([]);
    expect(second).toEqual([{ name }]);
  });

  it('a task that keeps failing is given up after maxAttempts and its name stays taken', async (ctx) => {
    const { path, open } = await scope(ctx);
    let calls = 0;
    const q = open(
      path,
      async () => {
        calls++;
        throw new Error('always');
      },
      { maxAttempts: 3, minBackoffMs: 20, maxBackoffMs: 40 },
    );
    const name = uid('t');
    await q.enqueue({ name, kind: KIND, payload: {} });
    await sleep(600);
    expect(calls).toBe(3);
    expect(await q.enqueue({ name, kind: KIND, payload: {} })).toEqual({ created: false });
    const db = new Database(path, { readonly: true });
    const row = db.prepare('SELECT state, attempts, last_error FROM task_queue WHERE name = ?').get(name);
    db.close();
    expect(row).toEqual({ state: 'failed', attempts: 3, last_error: 'always' });
  });

  it('a name becomes free again once its tombstone has expired', async (ctx) => {
    const { path, open } = await scope(ctx);
    const seen: unknown[] = [];
    const q = open(path, async (_r, b) => void seen.push(b), { tombstoneMs: 100 });
    const name = uid('t');
    await q.enqueue({ name, kind: KIND, payload: 1 });
    await sleep(300);
    expect(await q.enqueue({ name, kind: KIND, payload: 2 })).toEqual({ created: true });
    await sleep(300);
    expect(seen).toEqual([1, 2]);
  });

  it('two queues sharing the file deliver each task once', async (ctx) => {
    const { path, open } = await scope(ctx);
    const seen: string[] = [];
    const a = open(path, async () => void seen.push('a'));
    const b = open(path, async () => void seen.push('b'));
    const names = Array.from({ length: 10 }, () => uid('t'));
    for (const [i, name] of names.entries()) await (i % 2 ? a : b).enqueue({ name, kind: KIND, payload: {} });
    await sleep(700);
    expect(seen).toHaveLength(10);
  });

  it('a task a version-5 database holds (its old route in the row) is delivered as its kind after the migration', async (ctx) => {
    const { path, open } = await scope(ctx);
    // The current schema, taken back to version 5's task table, with a pending row the way version 5 wrote it.
    await open(path, async () => {}).close();
    const db = new Database(path);
    db.exec('ALTER TABLE task_queue RENAME COLUMN kind TO route; DROP TABLE aliases; PRAGMA user_version = 5');
    const name = uid('t');
    db.prepare(
      "INSERT INTO task_queue (name, route, body, due_at, attempts, state) VALUES (?, '/internal/tasks/lease-check', ?, ?, 0, 'pending')",
    ).run(name, JSON.stringify({ old: true }), Date.now());
    db.close();
    const seen: [string, unknown][] = [];
    const q = open(path, async (kind, payload) => void seen.push([kind, payload]));
    await q.enqueue({ name: uid('t'), kind: KIND, payload: { now: true } });
    await sleep(500);
    expect(seen.sort()).toEqual([
      ['lease-check', { old: true }],
      [KIND, { now: true }],
    ]);
  });

  it('skipKinds: those kinds stay pending for a process that delivers them, without a busy loop here', async (ctx) => {
    const { path, open } = await scope(ctx);
    // Counts the scheduler's looks at the table (its "when next" query) on this connection.
    let looks = 0;
    const db = openSqliteDb(path);
    const counting = new Proxy(db.db, {
      get(target, key) {
        if (key !== 'prepare') return Reflect.get(target, key, target);
        return (sql: string) => {
          const st = target.prepare(sql);
          if (!sql.includes('MIN(due_at)')) return st;
          return new Proxy(st, {
            get: (s, k) => {
              if (k !== 'get') return Reflect.get(s, k, s);
              return (...a: unknown[]) => {
                looks += 1;
                return s.get(...a);
              };
            },
          });
        };
      },
    });
    const seen: string[] = [];
    const skipping = createLocalTaskQueue({
      ...fast,
      db: { ...db, db: counting },
      dispatch: async (kind) => void seen.push(`skipping:${kind}`),
      skipKinds: ['skipped'],
    });
    ctx.onTestFinished(async () => {
      await skipping.close();
      db.close();
    });
    await skipping.enqueue({ name: uid('t'), kind: 'skipped', payload: {} });
    await skipping.enqueue({ name: uid('t'), kind: KIND, payload: {} });
    await sleep(600);
    expect(seen).toEqual([`skipping:${KIND}`]);
    // A due task it skips must not make it look again at once: a few looks per poll interval (200 ms), not thousands.
    expect(looks).toBeLessThan(20);
    const row = new Database(path, { readonly: true });
    expect(row.prepare("SELECT kind, state FROM task_queue WHERE kind = 'skipped'").all()).toEqual([
      { kind: 'skipped', state: 'pending' },
    ]);
    row.close();
    open(path, async (kind) => void seen.push(`other:${kind}`));
    await sleep(500);
    expect(seen).toEqual([`skipping:${KIND}`, 'other:skipped']);
  });

  it('enqueue after close is E_UNAVAILABLE', async (ctx) => {
    const { path, open } = await scope(ctx);
    const q = open(path, async () => {});
    await q.close();
    await expect(q.enqueue({ name: uid('t'), kind: KIND, payload: {} })).rejects.toMatchObject({
      code: 'E_UNAVAILABLE',
    });
  });
});
