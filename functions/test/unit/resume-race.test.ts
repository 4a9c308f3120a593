// Two `run --resume` in two processes both read the experiment before either writes: only the compare-and-set of
// the resume (status + attempt) decides. The store is the real SQLite adapter; a barrier holds every reader until
// all have read, which is the interleaving two processes can produce and one event loop never does.
import { describe, expect, it } from 'vitest';
import { createSqliteMetadataStore } from '../../src/adapters/local/sqlite-metadata-store.ts';
import type { CoreDeps } from '../../src/core/context.ts';
import { createExperiment, finishExperiment } from '../../src/core/experiments.ts';
import type { Principal } from '../../src/core/model.ts';
import type { MetadataStore } from '../../src/core/ports.ts';

const TEAM = 't1';
const p: Principal = { userId: 'u1', tokenId: 'tk', kind: 'personal', scopes: ['*'], teams: { [TEAM]: 'admin' } };
const body = (command: string[], resume: boolean) => ({
  key: 'exp',
  project: null,
  command,
  cwd: null,
  host: null,
  git: null,
  reuse: [],
  resume,
  queued: false,
});

/** A store whose getExperiment answers only once `n` callers are waiting (then all at once). */
function barrierStore(inner: MetadataStore, n: number): MetadataStore & { arm(): void } {
  let waiting: (() => void)[] | null = null;
  return Object.assign(Object.create(inner) as MetadataStore, {
    arm() {
      waiting = [];
    },
    async getExperiment(team: string, key: string) {
      const rec = await inner.getExperiment(team, key);
      if (waiting) {
        const w = waiting;
        await new Promise<void>((resolve) => {
          w.push(resolve);
          if (w.length >= n) {
            waiting = null;
            for (const r of w) r();
          }
        });
      }
      return rec;
    },
  });
}

function deps(meta: MetadataStore, now: () => Date): CoreDeps {
  return { meta, now, urlTtlSeconds: 900, runLeaseSeconds: 60 } as unknown as CoreDeps;
}

describe('concurrent --resume', () => {
  for (const state of ['ended', 'lapsed'] as const) {
    it(`of an experiment that ${state}: both read first, exactly one wins`, async () => {
      const inner = createSqliteMetadataStore({ path: ':memory:' });
      const meta = barrierStore(inner, 2);
      let clock = Date.parse('2026-01-01T00:00:00Z');
      const d = deps(meta, () => new Date(clock));
      await createExperiment(d, p, TEAM, body(['first'], false));
      if (state === 'ended') {
        await finishExperiment(d, p, TEAM, 'exp', {
          status: 'finished',
          exitCode: 0,
          signal: null,
          warnings: [],
          attempt: 1,
        });
      } else {
        clock += 61_000; // past the 60 s lease: each resume settles it to lost first
      }
      meta.arm();
      const results = await Promise.allSettled([
        createExperiment(d, p, TEAM, body(['a'], true)),
        createExperiment(d, p, TEAM, body(['b'], true)),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      expect(won).toHaveLength(1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect((lost.reason as { code: string }).code).toBe('E_CONFLICT');
      const e = await inner.getExperiment(TEAM, 'exp');
      expect(e?.attempt).toBe(2);
      expect(e?.attempts?.map((a) => a.attempt)).toEqual([1, 2]);
      inner.close();
    });
  }
});
