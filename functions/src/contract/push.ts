import { createHash } from 'node:crypto';
import type { ExperimentRecord } from './model.ts';

/**
 * The history an experiment record belongs to: the origin a push recorded, else one derived from what never
 * changes about an experiment once created (key, creation time, creator). Two records with the same id are the same
 * experiment on two backends; a key deleted and used again is another history.
 */
export function historyId(exp: Pick<ExperimentRecord, 'key' | 'createdAt' | 'owner' | 'push'>): string {
  if (exp.push?.origin) return exp.push.origin;
  return createHash('sha256')
    .update(`studio-lite/experiment\0${exp.key}\0${exp.createdAt}\0${exp.owner}`)
    .digest('hex');
}

/** The fields of an experiment record a push copies, in a fixed order (what `pushedRecord` and the target compare). */
export const PUSHED_FIELDS = [
  'project',
  'owner',
  'status',
  'command',
  'cwd',
  'host',
  'git',
  'createdAt',
  'startedAt',
  'finishedAt',
  'exitCode',
  'signal',
  'warnings',
  'lineage',
  'attempt',
  'attempts',
  'lastSeenAt',
] as const;
export type PushedRecord = Pick<ExperimentRecord, (typeof PUSHED_FIELDS)[number]>;

/** The part of a record a push carries (absent optional fields become null, so two backends compare equal). */
export function pushedRecord(exp: ExperimentRecord): PushedRecord {
  const out: Record<string, unknown> = {};
  for (const f of PUSHED_FIELDS) out[f] = exp[f] ?? null;
  if (!Array.isArray(out.attempts)) out.attempts = [];
  return out as unknown as PushedRecord;
}

/** JSON with object keys sorted at every level (Firestore answers map fields in its own order). */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o)
      .filter((k) => o[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** True when two records carry the same pushed fields (`rename` maps the source's lineage keys to the target's). */
export function samePushedRecord(a: PushedRecord, b: PushedRecord): boolean {
  return canonical(a) === canonical(b);
}
