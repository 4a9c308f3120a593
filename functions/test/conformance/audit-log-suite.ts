import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AuditAction, AuditEntry } from '../../src/contract/model.ts';
import { auditIdBound, newAuditId } from '../../src/core/audit.ts';
import type { AuditLog } from '../../src/core/ports.ts';
import { at, expectCode, uid } from './fixtures.ts';

export interface AuditLogHarness {
  log: AuditLog;
  cleanup(): Promise<void>;
}

export interface AuditLogSuiteOptions {
  name: string;
  /** A fresh log per test (it may share a backend: every test uses its own team ids). */
  make: () => Promise<AuditLogHarness>;
}

/** An entry at `seconds` after the fixed origin (ids follow the time, so order is known). */
export function entry(team: string, seconds: number, over: Partial<AuditEntry> = {}): AuditEntry {
  const when = new Date(at(seconds));
  return {
    id: newAuditId(when),
    team,
    at: when.toISOString(),
    actor: { userId: 'alice', tokenId: 'tok-1', kind: 'personal' },
    action: 'member.add',
    target: 'bob',
    details: { role: 'viewer', previousRole: null },
    ...over,
  };
}

/** The AuditLog port contract (see core/ports.ts), run against every adapter. */
export function testAuditLog(opts: AuditLogSuiteOptions): void {
  describe(`AuditLog conformance: ${opts.name}`, () => {
    let h: AuditLogHarness;
    let log: AuditLog;
    let team: string;
    let other: string;

    beforeEach(async () => {
      h = await opts.make();
      log = h.log;
      team = uid('team-a');
      other = uid('team-b');
    });
    afterEach(async () => {
      await h.cleanup();
    });

    it('append then list returns the entry exactly (nested details, nulls, actor)', async () => {
      const e = entry(team, 1, {
        action: 'download.sign',
        target: 'exp-1/model@3',
        actor: { userId: 'job-user', tokenId: 'tok-job', kind: 'job' },
        details: { blobs: 2, bytes: 1234, nested: { list: [1, 'two', null] }, none: null },
      });
      await log.append(e);
      expect(await log.list(team, { limit: 10 })).toEqual([e]);
      expect(await log.list(uid('team-c'), { limit: 10 })).toEqual([]);
    });

    it('lists newest first and honours limit', async () => {
      const es = [3, 1, 4, 2, 5].map((s) => entry(team, s, { target: `t${s}` }));
      for (const e of es) await log.append(e);
      const all = await log.list(team, { limit: 100 });
      expect(all.map((e) => e.target)).toEqual(['t5', 't4', 't3', 't2', 't1']);
      expect((await log.list(team, { limit: 2 })).map((e) => e.target)).toEqual(['t5', 't4']);
    });

    it('pages with before = the last id seen, every entry exactly once', async () => {
      const es = Array.from({ length: 23 }, (_, i) => entry(team, i, { target: `t${i}` }));
      for (const e of es) await log.append(e);
      const seen: string[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await log.list(team, { limit: 5, before });
        if (page.length === 0) break;
        seen.push(...page.map((e) => e.target));
        before = page[page.length - 1]?.id;
      }
      expect(seen).toEqual(es.map((e) => e.target).reverse());
    });

    it('before = a time bound (auditIdBound of an ISO time) excludes that instant and later', async () => {
      for (const s of [10, 20, 30]) await log.append(entry(team, s, { target: `t${s}` }));
      const page = await log.list(team, { limit: 10, before: auditIdBound(at(20)) });
      expect(page.map((e) => e.target)).toEqual(['t10']);
    });

    it('filters by action, also together with before', async () => {
      const actions: AuditAction[] = ['member.add', 'token.create', 'member.add', 'experiment.delete', 'member.add'];
      const es = actions.map((action, i) => entry(team, i, { action, target: `t${i}` }));
      for (const e of es) await log.append(e);
      const adds = await log.list(team, { limit: 10, action: 'member.add' });
      expect(adds.map((e) => e.target)).toEqual(['t4', 't2', 't0']);
      const older = await log.list(team, { limit: 10, action: 'member.add', before: adds[0]?.id });
      expect(older.map((e) => e.target)).toEqual(['t2', 't0']);
      expect(await log.list(team, { limit: 10, action: 'download.sign' })).toEqual([]);
    });

    it('teams are isolated', async () => {
      const a = entry(team, 1, { target: 'a' });
      const b = entry(other, 2, { target: 'b' });
      await log.append(a);
      await log.append(b);
      expect(await log.list(team, { limit: 10 })).toEqual([a]);
      expect(await log.list(other, { limit: 10 })).toEqual([b]);
    });

    it('an existing entry is never replaced: a second append of the id is E_CONFLICT', async () => {
      const e = entry(team, 1);
      await log.append(e);
      await expectCode(log.append({ ...e, target: 'rewritten', details: { forged: true } }), 'E_CONFLICT');
      expect(await log.list(team, { limit: 10 })).toEqual([e]);
    });

    it('concurrent appends all land', async () => {
      const es = Array.from({ length: 20 }, (_, i) => entry(team, 100, { target: `c${i}` }));
      await Promise.all(es.map((e) => log.append(e)));
      const all = await log.list(team, { limit: 100 });
      expect(all.map((e) => e.target).sort()).toEqual(es.map((e) => e.target).sort());
      // Ids of one process are strictly increasing even within one millisecond.
      expect(all.map((e) => e.id)).toEqual(es.map((e) => e.id).reverse());
    });
  });
}
