import type { ShowExperimentResponse } from '@studio-lite/functions/contract';
import { formatBytes, formatDuration, shellQuote, table } from '../../format.ts';

/** One artifact at the end of a run: its newest version and what this run stored for it. */
export interface SummaryArtifact {
  tag: string;
  mutable: boolean;
  version: number;
  /** Versions this run created (empty: the artifact kept a version from before, e.g. a resumed run). */
  createdVersions: number[];
  files: number;
  bytes: number;
  /** Bytes of `version` that were not stored before and were uploaded. */
  newBytes: number;
  /** Bytes of `version` already stored (earlier versions, other experiments, duplicate files). */
  dedupedBytes: number;
  /** Paste into a later `run` to reuse exactly this version. */
  reuse: string;
}

/** What `run` prints at the end (text on stderr, or one object on stdout with --json). */
export interface RunSummary {
  experiment: string;
  status: string;
  exitCode: number | null;
  signal: string | null;
  command: string[];
  startedAt: string | null;
  finishedAt: string | null;
  durationMs: number | null;
  artifacts: SummaryArtifact[];
  reused: { as: string; experiment: string; tag: string; version: number }[];
  warnings: string[];
}

/**
 * Builds the summary from the stored record (the source of truth, also for versions the periodic captures made).
 * `before` maps tag -> latest version before this run (a resumed run); versions above it are this run's.
 */
export function buildRunSummary(show: ShowExperimentResponse, before: Map<string, number> = new Map()): RunSummary {
  const e = show.experiment;
  const artifacts = show.artifacts
    .filter((a) => a.latestVersion > 0)
    .map((a): SummaryArtifact => {
      const last = a.versions.find((v) => v.version === a.latestVersion) ?? a.versions.at(-1);
      const since = before.get(a.tag) ?? 0;
      const createdVersions = a.versions.map((v) => v.version).filter((n) => n > since);
      const fresh = a.latestVersion > since;
      const bytes = last?.bytes ?? 0;
      const newBytes = fresh ? Math.min(last?.stats.uploadedBytes ?? 0, bytes) : 0;
      return {
        tag: a.tag,
        mutable: a.mutable,
        version: a.latestVersion,
        createdVersions,
        files: last?.files ?? 0,
        bytes,
        newBytes,
        dedupedBytes: bytes - newBytes,
        reuse: `--reuse=${shellQuote(`${e.key}/${a.tag}@${a.latestVersion}:${a.tag}`)}`,
      };
    })
    .sort((x, y) => x.tag.localeCompare(y.tag));
  const start = e.startedAt ? Date.parse(e.startedAt) : Number.NaN;
  const end = e.finishedAt ? Date.parse(e.finishedAt) : Number.NaN;
  return {
    experiment: e.key,
    status: e.status,
    exitCode: e.exitCode,
    signal: e.signal,
    command: e.command,
    startedAt: e.startedAt,
    finishedAt: e.finishedAt,
    durationMs: Number.isFinite(start) && Number.isFinite(end) ? end - start : null,
    artifacts,
    reused: e.lineage.map((l) => ({ as: l.as, experiment: l.experiment, tag: l.tag, version: l.version })),
    warnings: e.warnings,
  };
}

/** The text form: a table of artifacts, the reuse lines, and where to look next. */
export function formatRunSummary(s: RunSummary): string {
  const exit = s.exitCode === null ? '' : ` (exit ${s.exitCode}${s.signal ? `, ${s.signal}` : ''})`;
  const took = s.durationMs === null ? '' : ` in ${formatDuration(s.durationMs)}`;
  const lines = [`studio-lite: experiment ${s.experiment} ${s.status}${exit}${took}`];
  if (s.artifacts.length === 0) lines.push('  no artifacts stored');
  else {
    const rows = s.artifacts.map((a) => [
      a.tag,
      a.createdVersions.length > 1
        ? `@${a.version} (${a.createdVersions.length} this run)`
        : `@${a.version}${a.createdVersions.length === 0 ? ' (kept)' : ''}`,
      String(a.files),
      formatBytes(a.bytes),
      formatBytes(a.newBytes),
      formatBytes(a.dedupedBytes),
    ]);
    const t = table(['ARTIFACT', 'VERSION', 'FILES', 'SIZE', 'NEW', 'DEDUPLICATED'], rows);
    lines.push(...t.split('\n').map((l) => `  ${l}`));
  }
  for (const r of s.reused) lines.push(`  reused ${r.experiment}/${r.tag}@${r.version} as ${r.as}`);
  if (s.warnings.length > 0)
    lines.push(`  ${s.warnings.length} warning${s.warnings.length === 1 ? '' : 's'}: studio-lite show ${s.experiment}`);
  if (s.artifacts.length > 0) {
    lines.push('reuse in a later run:');
    for (const a of s.artifacts) lines.push(`  ${a.reuse}`);
  }
  lines.push(`details: studio-lite show ${s.experiment}`);
  return `${lines.join('\n')}\n`;
}

/** tag -> latest version, to tell a resumed run's new versions from the ones it found. */
export function latestVersions(show: ShowExperimentResponse): Map<string, number> {
  return new Map(show.artifacts.map((a) => [a.tag, a.latestVersion]));
}
