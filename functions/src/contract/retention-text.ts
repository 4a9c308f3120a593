import type { RetentionRules } from './model.ts';

/**
 * Retention policies and reports in words, the same in the CLI and the web page (browser-safe: contract/pure).
 * `keep last 10, every 100th, within 1d, 24 hourly, 7 daily; expire experiments 30d after they end`.
 */
export function describeRetention(r: RetentionRules): string {
  const within = r.keepWithinHours;
  const keep = [
    r.keepLast !== null ? `last ${r.keepLast}` : '',
    r.keepEvery !== null ? `every ${r.keepEvery}th` : '',
    within !== null ? `within ${within % 24 === 0 ? `${within / 24}d` : `${within}h`}` : '',
    r.keepHourly !== null ? `${r.keepHourly} hourly` : '',
    r.keepDaily !== null ? `${r.keepDaily} daily` : '',
  ].filter(Boolean);
  const parts = [keep.length ? `keep ${keep.join(', ')}` : 'keep every version'];
  if (r.expireDays !== null) parts.push(`expire experiments ${r.expireDays}d after they end`);
  return parts.join('; ');
}

/** Version numbers as runs: 1,2,3,5,7,8 -> "@1-3, @5, @7-8" (sorted input). */
export function versionRuns(vs: readonly number[]): string {
  const parts: string[] = [];
  for (let i = 0; i < vs.length; ) {
    let j = i;
    while (j + 1 < vs.length && (vs[j + 1] as number) === (vs[j] as number) + 1) j++;
    parts.push(j > i ? `@${vs[i]}-${vs[j]}` : `@${vs[i]}`);
    i = j + 1;
  }
  return parts.join(', ');
}
