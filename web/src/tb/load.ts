/**
 * The scalars of an experiment's `tb` version: its event files (TensorBoard's rule: "tfevents" in the file name)
 * fetched through the same signed requests as the previews (packed small files share their pack's range), parsed by
 * events.ts, merged per run (the folder of the event file inside `tb`, as TensorBoard's runs are).
 */
import { api, seg } from '../api.ts';
import { bytes } from '../format.ts';
import { type FileSource, fetchFile, fileSources, head } from '../pages/preview.ts';
import type { FileEntry, Manifest } from '../types.ts';
import { type ParsedEvents, parseEvents, type ScalarPoint } from './events.ts';

/** Bytes of event files read per experiment version (a file past it is read in part, later ones not at all). */
export const MAX_EVENT_BYTES = 32 * 1024 * 1024;
/** Event files read per version. */
export const MAX_EVENT_FILES = 200;

export interface ScalarRun {
  /** The event file's folder inside `tb` ('' for its top). */
  run: string;
  /** Ordered by step; of equal steps (a restarted writer) the last one read is kept. */
  points: ScalarPoint[];
}

export interface TbScalars {
  version: number;
  /** Event files in the version, and how many of their bytes were read. */
  files: number;
  bytesRead: number;
  /** Tag -> its runs, tags and runs sorted by name. */
  tags: Map<string, ScalarRun[]>;
  warnings: string[];
}

export const isEventFile = (path: string) => (path.split('/').pop() ?? '').includes('tfevents');

// Parsed files by content and bytes read: a live run's next version re-reads only the files that changed.
const parsed = new Map<string, ParsedEvents>();
const PARSED_KEPT = 256;

async function readEventFile(
  f: FileEntry,
  src: FileSource,
  limit: number,
  packs: Map<string, Promise<Uint8Array>>,
): Promise<Uint8Array> {
  if (src.offset !== undefined) {
    // A packed file (at most 256 KiB): its pack's signed range is fetched once for all its members.
    let body = packs.get(src.url);
    if (!body) {
      body = fetchFile({ url: src.url, headers: src.headers }, 1);
      packs.set(src.url, body);
    }
    return (await body).subarray(src.offset, src.offset + Math.min(f.size, limit));
  }
  if (f.size <= limit) return fetchFile(src, f.size);
  return (await head(src, f.size, limit)).bytes;
}

/** Sorted by step, stable; equal steps keep the last point read. */
export function byStep(points: ScalarPoint[]): ScalarPoint[] {
  const sorted = points.map((p, i) => ({ p, i })).sort((a, b) => a.p.step - b.p.step || a.i - b.i);
  const out: ScalarPoint[] = [];
  for (const { p } of sorted) {
    if (out.length && (out[out.length - 1] as ScalarPoint).step === p.step) out[out.length - 1] = p;
    else out.push(p);
  }
  return out;
}

export async function loadScalars(
  expKey: string,
  version: number,
  limits = { bytes: MAX_EVENT_BYTES, files: MAX_EVENT_FILES },
): Promise<TbScalars> {
  const { version: v } = await api<{ version: { manifest: Manifest } }>(
    'GET',
    `/v1/experiments/${seg(expKey)}/artifacts/tb/versions/${version}`,
  );
  const all = v.manifest.files.filter((f) => isEventFile(f.path)).sort((a, b) => (a.path < b.path ? -1 : 1));
  const warnings: string[] = [];
  const files = all.slice(0, limits.files);
  if (all.length > files.length)
    warnings.push(`${all.length} event files: only the first ${limits.files} (by path) are read`);
  // What each file may read, in path order, within the byte budget.
  let budget = limits.bytes;
  const plan = files.map((f) => {
    const take = Math.min(f.size, budget);
    budget -= take;
    return { f, take, key: `${f.path}\0${f.sha256}\0${take}` };
  });
  const skipped = plan.filter((p) => p.take === 0 && p.f.size > 0);
  if (skipped.length)
    warnings.push(
      `${skipped.length} event file${skipped.length === 1 ? '' : 's'} not read: at most ${bytes(limits.bytes)} of event files are read`,
    );
  const todo = plan.filter((p) => p.take > 0 && !parsed.has(p.key));
  if (todo.length) {
    const sources = await fileSources(
      expKey,
      'tb',
      version,
      todo.map((p) => p.f.sha256),
    );
    const packs = new Map<string, Promise<Uint8Array>>();
    let next = 0;
    // Four downloads at a time.
    const worker = async () => {
      while (next < todo.length) {
        const p = todo[next++] as (typeof todo)[number];
        const src = sources.get(p.f.sha256);
        if (!src) throw new Error(`${p.f.path}: no download URL`);
        const data = await readEventFile(p.f, src, p.take, packs);
        parsed.set(p.key, parseEvents(data, p.f.path, p.take === p.f.size));
        if (parsed.size > PARSED_KEPT) parsed.delete(parsed.keys().next().value as string);
      }
    };
    await Promise.all([worker(), worker(), worker(), worker()]);
  }
  const runs = new Map<string, Map<string, ScalarPoint[]>>();
  let bytesRead = 0;
  for (const p of plan) {
    const r = p.take > 0 ? parsed.get(p.key) : undefined;
    if (!r) continue;
    bytesRead += p.take;
    warnings.push(...r.warnings);
    const run = p.f.path.includes('/') ? p.f.path.slice(0, p.f.path.lastIndexOf('/')) : '';
    for (const [tag, points] of r.series) {
      const byRun = runs.get(tag) ?? new Map<string, ScalarPoint[]>();
      runs.set(tag, byRun);
      byRun.set(run, (byRun.get(run) ?? []).concat(points));
    }
  }
  const tags = new Map<string, ScalarRun[]>();
  for (const tag of [...runs.keys()].sort()) {
    const byRun = runs.get(tag) as Map<string, ScalarPoint[]>;
    tags.set(
      tag,
      [...byRun.keys()].sort().map((run) => ({ run, points: byStep(byRun.get(run) as ScalarPoint[]) })),
    );
  }
  return { version, files: all.length, bytesRead, tags, warnings };
}
