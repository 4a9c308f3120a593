import type { RetentionRules } from '../contract/model.ts';

/**
 * Which versions of one mutable artifact a retention policy keeps: restic's `forget` rules over the artifact's
 * versions instead of snapshots. A version is kept when any rule keeps it; every other one goes, except what is
 * protected (the caller passes those: aliases, lineage). The latest version is always kept. Rules:
 * - keepLast N: the N newest versions;
 * - keepEvery K: every version whose number is a multiple of K;
 * - keepWithinHours H: every version created less than H hours before `now`;
 * - keepHourly N / keepDaily N: the newest version of each of the N most recent UTC hours / days that have one.
 * A policy without any of these rules keeps every version (it may still expire experiments).
 */
export type KeepReason = 'latest' | 'last' | 'every' | 'within' | 'hourly' | 'daily' | 'alias' | 'lineage';

export interface VersionInfo {
  version: number;
  createdAt: string;
}

export function hasVersionRules(r: RetentionRules): boolean {
  return [r.keepLast, r.keepEvery, r.keepWithinHours, r.keepHourly, r.keepDaily].some((x) => x != null);
}

/** Newest version of each of the `n` most recent buckets (`bucket` names a version's hour or day). */
function newestPerBucket(newestFirst: VersionInfo[], n: number, bucket: (iso: string) => string): Set<number> {
  const out = new Set<number>();
  const seen = new Set<string>();
  for (const v of newestFirst) {
    if (seen.size >= n) break;
    const b = bucket(v.createdAt);
    if (seen.has(b)) continue;
    seen.add(b);
    out.add(v.version);
  }
  return out;
}

/**
 * version -> why it stays, for every version kept; the others are to delete. `protectedReasons` holds versions that
 * stay whatever the rules say (alias, lineage).
 */
export function keptVersions(
  versions: VersionInfo[],
  rules: RetentionRules,
  now: Date,
  protectedReasons: Map<number, KeepReason> = new Map(),
): Map<number, KeepReason[]> {
  const newestFirst = [...versions].sort((a, b) => b.version - a.version);
  const kept = new Map<number, KeepReason[]>();
  const keep = (v: number, why: KeepReason) => kept.set(v, [...(kept.get(v) ?? []), why]);
  const all = !hasVersionRules(rules);
  const latest = newestFirst[0];
  if (latest) keep(latest.version, 'latest');
  for (const [v, why] of protectedReasons) if (versions.some((x) => x.version === v)) keep(v, why);
  if (all) {
    for (const v of newestFirst) if (!kept.has(v.version)) keep(v.version, 'last');
    return kept;
  }
  if (rules.keepLast != null) for (const v of newestFirst.slice(0, rules.keepLast)) keep(v.version, 'last');
  if (rules.keepEvery != null) {
    for (const v of newestFirst) if (v.version % rules.keepEvery === 0) keep(v.version, 'every');
  }
  if (rules.keepWithinHours != null) {
    const since = now.getTime() - rules.keepWithinHours * 3600_000;
    for (const v of newestFirst) if (Date.parse(v.createdAt) > since) keep(v.version, 'within');
  }
  if (rules.keepHourly != null) {
    for (const v of newestPerBucket(newestFirst, rules.keepHourly, (t) => new Date(t).toISOString().slice(0, 13)))
      keep(v, 'hourly');
  }
  if (rules.keepDaily != null) {
    for (const v of newestPerBucket(newestFirst, rules.keepDaily, (t) => new Date(t).toISOString().slice(0, 10)))
      keep(v, 'daily');
  }
  return kept;
}
