import { describe, expect, it, type TestContext } from 'vitest';
import type { TaskQueue } from '../../src/core/task-queue.ts';
import { expectCode, sleep, uid } from './fixtures.ts';

/** Where the suite receives deliveries; a rejection must count as a failed attempt (the adapter retries). */
export type TaskTarget = (kind: string, payload: unknown) => Promise<void>;

export interface TaskQueueHarness {
  queue: TaskQueue;
  cleanup(): Promise<void>;
}

export interface TaskQueueSuiteOptions {
  name: string;
  /** A fresh queue that delivers to `target` and retries quickly (backoff well under a second, at least 4 attempts). */
  make: (target: TaskTarget) => Promise<TaskQueueHarness>;
}

const KIND = 'conformance-echo';

interface Delivery {
  kind: string;
  payload: unknown;
  at: number;
}

async function waitFor(what: string, cond: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Run {
  queue: TaskQueue;
  /** Everything delivered so far, in order. */
  deliveries: Delivery[];
  /** Deliveries of the task whose body has this `id`. */
  of(id: string): Delivery[];
  /** Makes the next `n` deliveries of task `id` fail. */
  fail(id: string, n: number): void;
}

/** The TaskQueue port contract (see core/task-queue.ts), run against every adapter. */
export function testTaskQueue(opts: TaskQueueSuiteOptions): void {
  /** A fresh queue per test, so the tests (mostly waiting) run concurrently. */
  async function start(ctx: TestContext): Promise<Run> {
    const deliveries: Delivery[] = [];
    const failures = new Map<string, number>();
    const h = await opts.make(async (kind, payload) => {
      deliveries.push({ kind, payload, at: Date.now() });
      const id = (payload as { id?: string } | null)?.id ?? '';
      const left = failures.get(id) ?? 0;
      if (left > 0) {
        failures.set(id, left - 1);
        throw new Error('injected failure');
      }
    });
    ctx.onTestFinished(() => h.cleanup());
    return {
      queue: h.queue,
      deliveries,
      of: (id) => deliveries.filter((d) => (d.payload as { id?: string } | null)?.id === id),
      fail: (id, n) => void failures.set(id, n),
    };
  }

  describe.concurrent(`TaskQueue conformance: ${opts.name}`, () => {
    it('delivers the payload with its kind', async (ctx) => {
      const { queue, of } = await start(ctx);
      const id = uid('t');
      const body = { id, n: 42, nested: { list: [1, 'two', null] }, text: 'ünïcødé' };
      expect(await queue.enqueue({ name: id, kind: KIND, payload: body })).toEqual({ created: true });
      await waitFor('delivery', () => of(id).length > 0);
      expect(of(id)).toMatchObject([{ kind: KIND, payload: body }]);
    });

    it('delivers several tasks independently', async (ctx) => {
      const { queue, of } = await start(ctx);
      const ids = Array.from({ length: 5 }, () => uid('t'));
      const created = await Promise.all(ids.map((id) => queue.enqueue({ name: id, kind: KIND, payload: { id } })));
      expect(created.every((c) => c.created)).toBe(true);
      await waitFor('all deliveries', () => ids.every((id) => of(id).length > 0));
      for (const id of ids) expect(of(id)).toHaveLength(1);
    });

    it('a duplicate name is not created and the task is delivered once', async (ctx) => {
      const { queue, of } = await start(ctx);
      const id = uid('t');
      expect(await queue.enqueue({ name: id, kind: KIND, payload: { id, copy: 1 } })).toEqual({ created: true });
      expect(await queue.enqueue({ name: id, kind: KIND, payload: { id, copy: 2 } })).toEqual({ created: false });
      await waitFor('delivery', () => of(id).length > 0);
      // A name stays taken after its task ran.
      expect(await queue.enqueue({ name: id, kind: KIND, payload: { id, copy: 3 } })).toEqual({ created: false });
      await sleep(300);
      expect(of(id)).toHaveLength(1);
      expect(of(id)[0]?.payload).toEqual({ id, copy: 1 });
    });

    it('concurrent enqueues of one name create exactly one task', async (ctx) => {
      const { queue, of } = await start(ctx);
      const id = uid('t');
      const results = await Promise.all(
        Array.from({ length: 6 }, (_, i) => queue.enqueue({ name: id, kind: KIND, payload: { id, i } })),
      );
      expect(results.filter((r) => r.created)).toHaveLength(1);
      await waitFor('delivery', () => of(id).length > 0);
      await sleep(200);
      expect(of(id)).toHaveLength(1);
    });

    it('does not deliver before scheduleTime, and delivers after it', async (ctx) => {
      const { queue, of } = await start(ctx);
      const id = uid('t');
      const scheduleTime = new Date(Date.now() + 2500);
      expect(await queue.enqueue({ name: id, kind: KIND, payload: { id }, scheduleTime })).toEqual({ created: true });
      // The first enqueue may load an SDK; check "not yet" only while there is time left before scheduleTime.
      const left = scheduleTime.getTime() - Date.now() - 200;
      if (left > 0) {
        await sleep(left);
        expect(of(id)).toHaveLength(0);
      }
      // Generous deadline: on a loaded 2-core CI machine dispatch can lag; early delivery is what must never happen.
      await waitFor('delayed delivery', () => of(id).length > 0, 12_000);
      // Whole-millisecond rounding in transports allows a few ms of slack, no more.
      expect(of(id)[0]?.at).toBeGreaterThanOrEqual(scheduleTime.getTime() - 5);
    }, 20_000);

    it('a scheduleTime in the past means now', async (ctx) => {
      const { queue, of } = await start(ctx);
      const id = uid('t');
      await queue.enqueue({ name: id, kind: KIND, payload: { id }, scheduleTime: new Date(Date.now() - 60_000) });
      await waitFor('delivery', () => of(id).length > 0, 10_000);
    }, 20_000);

    it('retries a failing delivery until it succeeds, then stops', async (ctx) => {
      const { queue, of, fail } = await start(ctx);
      const id = uid('t');
      fail(id, 2);
      await queue.enqueue({ name: id, kind: KIND, payload: { id, payload: 'same every time' } });
      await waitFor('three attempts', () => of(id).length >= 3);
      await sleep(500);
      expect(of(id)).toHaveLength(3);
      for (const d of of(id)) expect(d.payload).toEqual({ id, payload: 'same every time' });
      const [a, b, c] = of(id).map((d) => d.at) as [number, number, number];
      expect(b).toBeGreaterThan(a);
      expect(c).toBeGreaterThan(b);
    });

    it('refuses an invalid name, kind or scheduleTime with E_BAD_REQUEST', async (ctx) => {
      const { queue, deliveries } = await start(ctx);
      await expectCode(queue.enqueue({ name: 'has space', kind: KIND, payload: {} }), 'E_BAD_REQUEST');
      await expectCode(queue.enqueue({ name: 'a/b', kind: KIND, payload: {} }), 'E_BAD_REQUEST');
      await expectCode(queue.enqueue({ name: 'x'.repeat(501), kind: KIND, payload: {} }), 'E_BAD_REQUEST');
      await expectCode(queue.enqueue({ name: uid('t'), kind: 'https://evil.example/x', payload: {} }), 'E_BAD_REQUEST');
      await expectCode(queue.enqueue({ name: uid('t'), kind: '/internal/tasks/x', payload: {} }), 'E_BAD_REQUEST');
      await expectCode(
        queue.enqueue({ name: uid('t'), kind: KIND, payload: {}, scheduleTime: new Date(Number.NaN) }),
        'E_BAD_REQUEST',
      );
      await sleep(100);
      expect(deliveries).toHaveLength(0);
    });
  });
}
