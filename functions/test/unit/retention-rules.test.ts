/**
 * keptVersions (core/retention-rules.ts): which versions of one mutable artifact a policy keeps. A simulated week of
 * captures with explicit times; every expectation is a set of version numbers picked by hand from the capture
 * schedule (never recomputed with the rules' own logic).
 */
import { describe, expect, it } from 'vitest';
import type { RetentionRules } from '../../src/contract/model.ts';
import { type KeepReason, keptVersions, type VersionInfo } from '../../src/core/retention-rules.ts';

const OFF: RetentionRules = {
  keepLast: null,
  keepEvery: null,
  keepWithinHours: null,
  keepHourly: null,
  keepDaily: null,
  expireDays: null,
};
const rules = (r: Partial<RetentionRules>): RetentionRules => ({ ...OFF, ...r });

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
/** Monday 2024-03-04 00:00 UTC: the week's first capture. */
const START = Date.parse('2024-03-04T00:00:00.000Z');

/**
 * One capture every `everyMinutes` for 7 days from START: version v at START + (v - 1) * everyMinutes. `now` is the
 * end of the week (START + 7 days), one interval after the last capture.
 */
function week(everyMinutes: number): { versions: VersionInfo[]; now: Date } {
  const n = (7 * DAY) / (everyMinutes * MIN);
  const versions = Array.from({ length: n }, (_, i) => ({
    version: i + 1,
    createdAt: new Date(START + i * everyMinutes * MIN).toISOString(),
  }));
  return { versions, now: new Date(START + 7 * DAY) };
}

const kept = (m: Map<number, KeepReason[]>) => [...m.keys()].sort((a, b) => a - b);
const range = (from: number, to: number, step = 1) => {
  const out: number[] = [];
  for (let v = from; v <= to; v += step) out.push(v);
  return out;
};
const sorted = (xs: Iterable<number>) => [...new Set(xs)].sort((a, b) => a - b);

describe('a week of captures every 10 minutes (versions 1..1008; day d = 144d+1 .. 144d+144)', () => {
  const { versions, now } = week(10);

  it('the schedule is what the expectations assume', () => {
    expect(versions).toHaveLength(1008);
    expect(versions[0]?.createdAt).toBe('2024-03-04T00:00:00.000Z');
    expect(versions[864]?.createdAt).toBe('2024-03-10T00:00:00.000Z'); // version 865 opens the last day
    expect(versions[1007]?.createdAt).toBe('2024-03-10T23:50:00.000Z');
    expect(now.toISOString()).toBe('2024-03-11T00:00:00.000Z');
  });

  it('keepLast 5: the five newest', () => {
    const m = keptVersions(versions, rules({ keepLast: 5 }), now);
    expect(kept(m)).toEqual([1004, 1005, 1006, 1007, 1008]);
    expect(m.get(1008)).toEqual(['latest', 'last']);
    expect(m.get(1004)).toEqual(['last']);
  });

  it('keepLast larger than the history keeps everything', () => {
    expect(kept(keptVersions(versions, rules({ keepLast: 5000 }), now))).toEqual(range(1, 1008));
  });

  it('keepWithinHours 24: created strictly after now - 24 h (the capture at exactly 24 h goes)', () => {
    // 2024-03-10T00:00 is version 865: exactly 24 h old, not within.
    const m = keptVersions(versions, rules({ keepWithinHours: 24 }), now);
    expect(kept(m)).toEqual(range(866, 1008));
    expect(m.get(866)).toEqual(['within']);
  });

  it('keepWithinHours 0.5: the captures of the last half hour', () => {
    // 23:40 and 23:50 (23:30 is exactly 30 minutes old).
    expect(kept(keptVersions(versions, rules({ keepWithinHours: 0.5 }), now))).toEqual([1007, 1008]);
  });

  it('keepHourly 6: the newest (minute 50) of each of the last six hours', () => {
    // Hour h of the last day: versions 865+6h .. 870+6h; its newest is 870+6h. Hours 18..23.
    const m = keptVersions(versions, rules({ keepHourly: 6 }), now);
    expect(kept(m)).toEqual([978, 984, 990, 996, 1002, 1008]);
    expect(m.get(978)).toEqual(['hourly']);
    expect(m.get(1008)).toEqual(['latest', 'hourly']);
  });

  it('keepDaily 3: the last capture (23:50) of each of the last three days', () => {
    const m = keptVersions(versions, rules({ keepDaily: 3 }), now);
    expect(kept(m)).toEqual([720, 864, 1008]);
    expect(m.get(864)).toEqual(['daily']);
  });

  it('keepDaily 30 over a week: one per day that has captures (seven)', () => {
    expect(kept(keptVersions(versions, rules({ keepDaily: 30 }), now))).toEqual([144, 288, 432, 576, 720, 864, 1008]);
  });

  it('keepWithinHours 24 + keepHourly 48: the whole last day, then hourly for the day before', () => {
    // Within: 866..1008. Hourly 48: the last day's 24 hours (already within) and the 24 hours of day 5, whose
    // newest are 864, 858, …, 726.
    const m = keptVersions(versions, rules({ keepWithinHours: 24, keepHourly: 48 }), now);
    expect(kept(m)).toEqual(sorted([...range(726, 864, 6), ...range(866, 1008)]));
    expect(m.get(870)).toEqual(['within', 'hourly']);
    expect(m.get(726)).toEqual(['hourly']);
    expect(m.has(865)).toBe(false);
    expect(m.has(720)).toBe(false);
  });

  it('keepEvery 100: multiples of 100, and the latest', () => {
    const m = keptVersions(versions, rules({ keepEvery: 100 }), now);
    expect(kept(m)).toEqual([100, 200, 300, 400, 500, 600, 700, 800, 900, 1000, 1008]);
    expect(m.get(1008)).toEqual(['latest']);
    expect(m.get(500)).toEqual(['every']);
  });

  it('keepLast 3 + keepDaily 7 + keepEvery 500: the union, each version with every reason that keeps it', () => {
    const m = keptVersions(versions, rules({ keepLast: 3, keepDaily: 7, keepEvery: 500 }), now);
    expect(kept(m)).toEqual([144, 288, 432, 500, 576, 720, 864, 1000, 1006, 1007, 1008]);
    expect(m.get(1008)).toEqual(['latest', 'last', 'daily']);
    expect(m.get(1000)).toEqual(['every']);
    expect(m.get(1006)).toEqual(['last']);
  });

  it('the typical policy: keepLast 10 + keepWithinHours 24 + keepHourly 24 + keepDaily 7', () => {
    const m = keptVersions(versions, rules({ keepLast: 10, keepWithinHours: 24, keepHourly: 24, keepDaily: 7 }), now);
    // The last day whole but its first capture (exactly 24 h old, and not the newest of its hour), plus the last
    // capture of each earlier day.
    expect(kept(m)).toEqual([144, 288, 432, 576, 720, 864, ...range(866, 1008)]);
    expect(m.size).toBe(6 + 143);
  });

  it('the order of the input does not matter', () => {
    const shuffled = [...versions].sort((a, b) => ((a.version * 7919) % 1009) - ((b.version * 7919) % 1009));
    const r = rules({ keepLast: 3, keepHourly: 5, keepDaily: 4, keepEvery: 250 });
    expect(kept(keptVersions(shuffled, r, now))).toEqual(kept(keptVersions(versions, r, now)));
  });
});

describe('a week of captures every minute (10,080 versions)', () => {
  const { versions, now } = week(1);

  it('keepHourly 24 + keepDaily 7 + keepLast 2', () => {
    // Newest of hour h of the last day: 8640 + 60h + 60 (minute 59); days: 1440d + 1440.
    const hourly = range(0, 23).map((h) => 8640 + 60 * h + 60);
    const daily = range(1, 7).map((d) => 1440 * d);
    const m = keptVersions(versions, rules({ keepHourly: 24, keepDaily: 7, keepLast: 2 }), now);
    expect(kept(m)).toEqual(sorted([...hourly, ...daily, 10079, 10080]));
  });

  it('keepWithinHours 1: the last hour but the capture exactly an hour old', () => {
    expect(kept(keptVersions(versions, rules({ keepWithinHours: 1 }), now))).toEqual(range(10022, 10080));
  });
});

describe('times with an offset bucket by UTC', () => {
  const versions: VersionInfo[] = [
    { version: 1, createdAt: '2024-03-09T23:10:00Z' }, // UTC 03-09 23h
    { version: 2, createdAt: '2024-03-10T01:30:00+02:00' }, // = 03-09T23:30Z: same UTC hour and day as 1
    { version: 3, createdAt: '2024-03-10T00:20:00Z' }, // 03-10 00h
    { version: 4, createdAt: '2024-03-10T03:00:00+02:00' }, // = 03-10T01:00Z
  ];
  const now = new Date('2024-03-10T02:00:00Z');

  it('keepDaily 2: the newest of 03-10 (4) and of 03-09 (2, written as 03-10 in its own zone)', () => {
    expect(kept(keptVersions(versions, rules({ keepDaily: 2 }), now))).toEqual([2, 4]);
  });

  it('keepHourly 4: only three UTC hours have captures; 1 shares its hour with the newer 2', () => {
    expect(kept(keptVersions(versions, rules({ keepHourly: 4 }), now))).toEqual([2, 3, 4]);
  });

  it('keepWithinHours 2 compares instants, not strings', () => {
    // Since 00:00Z: 3 (00:20Z) and 4 (01:00Z); 2 reads "01:30" but is 23:30Z the day before.
    expect(kept(keptVersions(versions, rules({ keepWithinHours: 2 }), now))).toEqual([3, 4]);
  });

  it('an offset of -05:00 moves a capture to the next UTC day', () => {
    const vs: VersionInfo[] = [
      { version: 1, createdAt: '2024-03-09T10:00:00Z' }, // 03-09
      { version: 2, createdAt: '2024-03-09T20:00:00-05:00' }, // = 03-10T01:00Z
      { version: 3, createdAt: '2024-03-10T03:00:00Z' }, // 03-10
    ];
    // Day 03-10: 2 and 3 (newest 3); day 03-09: 1. Bucketing the written date would keep 2 instead of 1.
    expect(kept(keptVersions(vs, rules({ keepDaily: 5 }), new Date('2024-03-10T04:00:00Z')))).toEqual([1, 3]);
  });
});

describe('protected versions, the latest, no rules', () => {
  const ten = Array.from({ length: 10 }, (_, i) => ({
    version: i + 1,
    createdAt: new Date(START + i * HOUR).toISOString(),
  }));
  const now = new Date(START + 10 * HOUR);

  it('an alias or a lineage keeps a version the rules would delete, with its reason', () => {
    const m = keptVersions(
      ten,
      rules({ keepLast: 2 }),
      now,
      new Map<number, KeepReason>([
        [3, 'alias'],
        [5, 'lineage'],
      ]),
    );
    expect(kept(m)).toEqual([3, 5, 9, 10]);
    expect(m.get(3)).toEqual(['alias']);
    expect(m.get(5)).toEqual(['lineage']);
  });

  it('a protected version the rules keep anyway has both reasons; one that does not exist is ignored', () => {
    const m = keptVersions(
      ten,
      rules({ keepLast: 2 }),
      now,
      new Map<number, KeepReason>([
        [9, 'alias'],
        [99, 'lineage'],
      ]),
    );
    expect(kept(m)).toEqual([9, 10]);
    expect(m.get(9)).toEqual(['alias', 'last']);
  });

  it('the latest stays whatever the rules say', () => {
    // keepEvery 3 keeps 3, 6, 9; 10 is the latest. keepWithinHours so short nothing qualifies.
    expect(kept(keptVersions(ten, rules({ keepEvery: 3 }), now))).toEqual([3, 6, 9, 10]);
    expect(kept(keptVersions(ten, rules({ keepWithinHours: 0.001 }), now))).toEqual([10]);
    expect(keptVersions(ten, rules({ keepLast: 1 }), now).get(10)).toEqual(['latest', 'last']);
  });

  it('no version rule (none at all, or only expireDays) keeps every version', () => {
    for (const r of [OFF, rules({ expireDays: 1 })]) {
      const m = keptVersions(ten, r, now);
      expect(kept(m)).toEqual(range(1, 10));
      expect(m.get(10)).toEqual(['latest']);
      expect(m.get(1)).toEqual(['last']);
    }
  });

  it('an artifact without versions keeps nothing; a single version is kept', () => {
    expect(keptVersions([], rules({ keepLast: 3 }), now).size).toBe(0);
    expect(kept(keptVersions([ten[0] as VersionInfo], rules({ keepEvery: 7 }), now))).toEqual([1]);
  });

  it('gaps in the numbering (versions deleted by an earlier run) do not shift the rules', () => {
    const gappy = ten.filter((v) => [1, 4, 8, 9, 10].includes(v.version));
    expect(kept(keptVersions(gappy, rules({ keepLast: 2 }), now))).toEqual([9, 10]);
    expect(kept(keptVersions(gappy, rules({ keepEvery: 4 }), now))).toEqual([4, 8, 10]);
  });
});
