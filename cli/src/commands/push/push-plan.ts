import {
  assertExperimentKey,
  isStudioError,
  type LineageEntry,
  type ShowExperimentResponse,
  TERMINAL_STATUSES,
} from '@studio-lite/functions/contract';
import type { ApiClient } from '../../api-client.ts';
import { ExitError } from '../../exit-error.ts';

/** One experiment to push: its key on each side and what the source holds. */
export interface PushItem {
  source: string;
  target: string;
  show: ShowExperimentResponse;
}

export interface PushPlan {
  /** Dependencies first: an experiment comes after every experiment of this push whose versions it reused. */
  items: PushItem[];
  /** Experiments left out, with the reason (still running, queued). */
  skipped: { key: string; reason: string }[];
  /** Lineage to experiments outside this push: the target must have these versions (checked by the caller). */
  external: (LineageEntry & { digest: string | null })[];
}

export interface PlanOptions {
  /** Keys named on the command line (a running one among them is an error, not a skip). */
  named: string[];
  /** Keys selected by --all, --project or --pending. */
  selected: string[];
  withLineage: boolean;
  as?: string | undefined;
  prefix?: string | undefined;
}

async function showOrNull(client: ApiClient, key: string): Promise<ShowExperimentResponse | null> {
  try {
    return await client.showExperiment(key);
  } catch (err) {
    if (isStudioError(err, 'E_NOT_FOUND')) return null;
    throw err;
  }
}

/**
 * Reads every selected experiment from the source (and, with --with-lineage, every experiment their lineage reaches),
 * names each on the target (--as, --prefix), rewrites lineage between pushed experiments to the new names, and orders
 * them so reused versions arrive before the experiments that reused them. Nothing is written anywhere.
 */
export async function planPush(source: ApiClient, o: PlanOptions): Promise<PushPlan> {
  if (o.as !== undefined && (o.named.length !== 1 || o.selected.length > 0)) {
    throw new ExitError(2, '--as renames one experiment: name exactly one EXP', 'E_BAD_REQUEST');
  }
  const shows = new Map<string, ShowExperimentResponse>();
  const skipped: PushPlan['skipped'] = [];
  const named = new Set(o.named);
  const queue = [...new Set([...o.named, ...o.selected])];
  while (queue.length) {
    const key = queue.shift() as string;
    if (shows.has(key) || skipped.some((s) => s.key === key)) continue;
    const show = await showOrNull(source, assertExperimentKey(key));
    if (!show) {
      if (named.has(key)) throw new ExitError(2, `experiment ${key} not found on the source`, 'E_NOT_FOUND');
      skipped.push({ key, reason: 'not found on the source' });
      continue;
    }
    const status = show.experiment.status;
    if (!TERMINAL_STATUSES.includes(status)) {
      const reason = `${status}: push it when it has ended`;
      if (named.has(key)) throw new ExitError(2, `experiment ${key} is ${reason}`, 'E_CONFLICT');
      skipped.push({ key, reason });
      continue;
    }
    shows.set(key, show);
    if (o.withLineage) for (const l of show.experiment.lineage) queue.push(l.experiment);
  }
  const rename = new Map<string, string>();
  for (const key of shows.keys()) {
    const to = o.as !== undefined && named.has(key) ? o.as : `${o.prefix ?? ''}${key}`;
    try {
      rename.set(key, assertExperimentKey(to));
    } catch (err) {
      throw new ExitError(2, `cannot push ${key} as ${to}: ${(err as Error).message}`, 'E_BAD_KEY');
    }
  }
  const byTarget = new Map<string, string>();
  for (const [key, to] of rename) {
    const other = byTarget.get(to);
    if (other !== undefined) {
      throw new ExitError(2, `${other} and ${key} would both be pushed as ${to}`, 'E_BAD_REQUEST');
    }
    byTarget.set(to, key);
  }
  // Depth-first: a lineage source before its user (lineage only points at versions that existed earlier: no cycles,
  // but a visited set keeps a malformed record from looping).
  const items: PushItem[] = [];
  const done = new Set<string>();
  const visit = (key: string, path: Set<string>) => {
    const show = shows.get(key);
    if (!show || done.has(key) || path.has(key)) return;
    path.add(key);
    for (const l of show.experiment.lineage) visit(l.experiment, path);
    path.delete(key);
    done.add(key);
    items.push({ source: key, target: rename.get(key) as string, show });
  };
  for (const key of shows.keys()) visit(key, new Set());
  const external: PushPlan['external'] = [];
  // One read per experiment outside the push, however many of its versions are reused.
  const outside = new Map<string, Promise<ShowExperimentResponse | null>>();
  for (const it of items) {
    for (const l of it.show.experiment.lineage) {
      if (shows.has(l.experiment)) continue;
      if (external.some((e) => e.experiment === l.experiment && e.tag === l.tag && e.version === l.version)) continue;
      if (!outside.has(l.experiment)) outside.set(l.experiment, showOrNull(source, l.experiment));
      const src = await outside.get(l.experiment);
      const v = src?.artifacts.find((a) => a.tag === l.tag)?.versions.find((x) => x.version === l.version);
      external.push({ ...l, digest: v?.digest ?? null });
    }
  }
  return { items, skipped, external };
}

/** The lineage of a pushed record, with experiments of this push under their target names. */
export function renamedLineage(lineage: LineageEntry[], items: PushItem[]): LineageEntry[] {
  const names = new Map(items.map((i) => [i.source, i.target]));
  return lineage.map((l) => ({ ...l, experiment: names.get(l.experiment) ?? l.experiment }));
}
