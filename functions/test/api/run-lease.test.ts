// Direct runs hold a lease renewed by heartbeat: a lapsed run reads as `lost`, --resume is refused while the lease
// is live and on a key that does not exist, racing resumes have exactly one winner, and every attempt is kept.
// Real local host on SQLite; the lease is shortened to 1 s through STUDIOML_RUN_LEASE_SECONDS.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  CreateExperimentResponse,
  HeartbeatExperimentResponse,
  ShowExperimentResponse,
} from '../../src/contract/wire.ts';
import { createExperiment, expectError, type Harness, route, sleep, startHarness, uniqueKey } from './helpers.ts';

let h: Harness;
const saved = process.env.STUDIOML_RUN_LEASE_SECONDS;

beforeAll(async () => {
  process.env.STUDIOML_RUN_LEASE_SECONDS = '1';
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
  if (saved === undefined) delete process.env.STUDIOML_RUN_LEASE_SECONDS;
  else process.env.STUDIOML_RUN_LEASE_SECONDS = saved;
});

const heartbeat = (key: string, attempt: number) =>
  h.call<HeartbeatExperimentResponse>('POST', `${route.experiment(key)}/heartbeat`, { body: { attempt } });
const resume = (key: string, command = ['again']) =>
  h.call<CreateExperimentResponse>('POST', route.experiments(), { body: { key, command, resume: true } });
const show = async (key: string) =>
  (await h.call<ShowExperimentResponse>('GET', route.experiment(key))).body.experiment;
const finish = (key: string, body: Record<string, unknown>) =>
  h.call('POST', route.finish(key), { body: { status: 'finished', exitCode: 0, ...body } });

describe('run lease', () => {
  it('a run gets a lease, the heartbeat renews it, and a lapsed one reads as lost with the time last seen', async () => {
    const key = uniqueKey('lease');
    const c = await createExperiment(h, key, { command: ['train.py'] });
    expect(c.leaseSeconds).toBe(1);
    expect(c.experiment.attempt).toBe(1);
    expect(Date.parse(c.experiment.leaseExpiresAt as string)).toBeGreaterThan(Date.now());
    for (let i = 0; i < 4; i++) {
      await sleep(400);
      const hb = await heartbeat(key, 1);
      expect(hb.status, hb.text).toBe(200);
      expect(hb.body.status).toBe('running');
    }
    expect((await show(key)).status).toBe('running'); // 1.6 s after start, alive thanks to the heartbeat
    const lastBeat = (await show(key)).lastSeenAt as string;
    await sleep(1300);
    const e = await show(key);
    expect(e.status).toBe('lost');
    expect(e.lastSeenAt).toBe(lastBeat);
    expect(e.finishedAt).toBe(lastBeat);
    expect(e.attempts?.map((a) => [a.attempt, a.status, a.lastSeenAt])).toEqual([[1, 'lost', lastBeat]]);
    const list = await h.call<{ experiments: { key: string; status: string }[] }>('GET', route.experiments());
    expect(list.body.experiments.find((x) => x.key === key)?.status).toBe('lost');
  });

  it('--resume is refused while the lease is live (E_CONFLICT, nothing changed) and accepted once it lapsed', async () => {
    const key = uniqueKey('live');
    await createExperiment(h, key, { command: ['first'] });
    const before = await show(key);
    expectError(await resume(key), 409, 'E_CONFLICT');
    expect(await show(key)).toEqual(before);
    await sleep(1200);
    const r = await resume(key, ['second']);
    expect(r.status, r.text).toBe(200);
    expect(r.body.resumed).toBe(true);
    expect(r.body.experiment.attempt).toBe(2);
    expect(r.body.experiment.status).toBe('running');
    // The old attempt came back: it may change nothing any more.
    expectError(await heartbeat(key, 1), 409, 'E_LEASE_LOST');
    expectError(await finish(key, { attempt: 1 }), 409, 'E_LEASE_LOST');
    expect((await finish(key, { attempt: 2, exitCode: 0 })).status).toBe(200);
    const e = await show(key);
    expect(e.attempts?.map((a) => [a.attempt, a.status, a.command, a.exitCode])).toEqual([
      [1, 'lost', ['first'], null],
      [2, 'finished', ['second'], 0],
    ]);
  });

  it('--resume of a key that does not exist is E_NOT_FOUND and creates nothing', async () => {
    const key = uniqueKey('ghost');
    expectError(await resume(key), 404, 'E_NOT_FOUND');
    expectError(await h.call('GET', route.experiment(key)), 404, 'E_NOT_FOUND');
  });

  it('of 10 concurrent resumes of an ended experiment exactly one wins; each attempt keeps its exit code', async () => {
    const key = uniqueKey('race');
    await createExperiment(h, key, { command: ['one'] });
    expect((await finish(key, { attempt: 1, status: 'failed', exitCode: 3 })).status).toBe(200);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => resume(key, [`r${i}`])));
    const won = results.filter((r) => r.status === 200);
    expect(won).toHaveLength(1);
    for (const r of results.filter((x) => x.status !== 200)) expectError(r, 409, 'E_CONFLICT');
    const e = await show(key);
    expect(e.attempt).toBe(2);
    expect(e.attempts?.map((a) => [a.status, a.exitCode])).toEqual([
      ['failed', 3],
      ['running', null],
    ]);
    expect(e.command).toEqual(won[0]?.body.experiment.command);
  });

  it('of concurrent resumes of a lapsed run (lost is settled by the same requests) exactly one wins', async () => {
    const key = uniqueKey('lapsed-race');
    await createExperiment(h, key, { command: ['one'] });
    await sleep(1200);
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => resume(key, [`r${i}`])));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    const e = await show(key);
    expect(e.status).toBe('running');
    expect(e.attempts?.map((a) => a.status)).toEqual(['lost', 'running']);
  });

  it('a run that slept past its lease and is still the current attempt takes its experiment back', async () => {
    const key = uniqueKey('sleeper');
    await createExperiment(h, key, { command: ['nap'] });
    await sleep(1200);
    expect((await show(key)).status).toBe('lost');
    const hb = await heartbeat(key, 1);
    expect(hb.status, hb.text).toBe(200);
    expect(hb.body.status).toBe('running');
    const e = await show(key);
    expect(e.status).toBe('running');
    expect(e.warnings.some((w) => w.includes('after its lease lapsed'))).toBe(true);
    // And a run that came back may also finish directly from lost (its heartbeat raced the final report).
    await sleep(1200);
    expect((await show(key)).status).toBe('lost');
    expect((await finish(key, { attempt: 1, exitCode: 0 })).status).toBe(200);
    expect((await show(key)).status).toBe('finished');
  });

  it('a finish without attempt (old clients) still needs the run to be running or queued', async () => {
    const key = uniqueKey('legacy');
    await createExperiment(h, key);
    await sleep(1200);
    expect((await show(key)).status).toBe('lost');
    expectError(await finish(key, {}), 409, 'E_CONFLICT');
  });

  it('heartbeat input is validated', async () => {
    const key = uniqueKey('hb-bad');
    await createExperiment(h, key);
    expectError(
      await h.call('POST', `${route.experiment(key)}/heartbeat`, { body: { attempt: 'x' } }),
      400,
      'E_BAD_REQUEST',
    );
    expectError(await heartbeat(uniqueKey('nope'), 1), 404, 'E_NOT_FOUND');
  });
});
