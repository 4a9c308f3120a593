// contract/push.ts: the history an experiment belongs to, and the record comparison a second push relies on.
import { describe, expect, it } from 'vitest';
import type { ExperimentRecord } from '../../src/contract/model.ts';
import { historyId, pushedRecord, samePushedRecord } from '../../src/contract/push.ts';

const rec = (over: Partial<ExperimentRecord> = {}): ExperimentRecord => ({
  team: 'local',
  key: 'exp',
  project: null,
  owner: 'alice',
  status: 'finished',
  command: ['python3', 'train.py'],
  cwd: '/w',
  host: 'box',
  git: { commit: 'abc', url: null, dirty: false },
  createdAt: '2026-01-01T00:00:00.000Z',
  startedAt: '2026-01-01T00:00:00.000Z',
  finishedAt: '2026-01-01T00:01:00.000Z',
  exitCode: 0,
  signal: null,
  warnings: [],
  lineage: [],
  attempt: 1,
  attempts: [],
  ...over,
});

describe('historyId', () => {
  it('is the same for the same experiment on two teams, and differs for a key used again', () => {
    expect(historyId(rec())).toBe(historyId(rec({ team: 'other', status: 'failed' })));
    expect(historyId(rec())).not.toBe(historyId(rec({ createdAt: '2026-01-02T00:00:00.000Z' })));
    expect(historyId(rec())).not.toBe(historyId(rec({ owner: 'bob' })));
    expect(historyId(rec())).toMatch(/^[0-9a-f]{64}$/);
  });

  it('is the recorded origin once pushed, whatever the key is now (--as) ', () => {
    const origin = historyId(rec());
    const pushed = rec({
      key: 'renamed',
      push: { origin, from: 'local', by: 'u', host: null, at: 'x', complete: true },
    });
    expect(historyId(pushed)).toBe(origin);
  });
});

describe('samePushedRecord', () => {
  it('ignores key order (Firestore answers maps sorted) and absent optional fields', () => {
    const a = pushedRecord(rec({ git: { commit: 'abc', url: null, dirty: false } }));
    const b = pushedRecord(rec({ git: { dirty: false, url: null, commit: 'abc' } as ExperimentRecord['git'] }));
    expect(samePushedRecord(a, b)).toBe(true);
    const noAttempts = rec();
    delete noAttempts.attempts;
    expect(samePushedRecord(pushedRecord(noAttempts), a)).toBe(true);
  });

  it('sees a changed status, exit code, attempt or lineage', () => {
    const a = pushedRecord(rec());
    expect(samePushedRecord(a, pushedRecord(rec({ status: 'failed' })))).toBe(false);
    expect(samePushedRecord(a, pushedRecord(rec({ exitCode: 1 })))).toBe(false);
    expect(samePushedRecord(a, pushedRecord(rec({ attempt: 2 })))).toBe(false);
    expect(
      samePushedRecord(a, pushedRecord(rec({ lineage: [{ as: 'd', experiment: 'x', tag: 't', version: 1 }] }))),
    ).toBe(false);
  });

  it('does not carry team, key, lease or the push marker', () => {
    const p = pushedRecord(rec({ leaseExpiresAt: 'soon' }));
    expect(Object.keys(p)).not.toContain('team');
    expect(Object.keys(p)).not.toContain('key');
    expect(Object.keys(p)).not.toContain('leaseExpiresAt');
    expect(Object.keys(p)).not.toContain('push');
  });
});
