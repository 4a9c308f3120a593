import { type CheckpointReport, checkpointReport, type ShowExperimentResponse } from '@studio-lite/functions/contract';
import type { ApiClient } from '../../api-client.ts';
import { formatBytes } from '../../format.ts';

/** Versions of a `modeldir` whose checkpoints `show` analyses (their manifests are read): the newest ones. */
export const CHECKPOINT_VERSIONS = 50;

/**
 * The checkpoints of each recent `modeldir` version (contract/checkpoints.ts), compared with the version before:
 * version number -> report. One manifest read per version, and one for the version before the oldest analysed.
 */
export async function modeldirCheckpoints(
  client: ApiClient,
  key: string,
  show: ShowExperimentResponse,
): Promise<Map<number, CheckpointReport>> {
  const out = new Map<number, CheckpointReport>();
  const art = show.artifacts.find((a) => a.tag === 'modeldir');
  if (!art) return out;
  const numbers = art.versions.map((v) => v.version).sort((a, b) => a - b);
  // "Previous" is the version before in the list: numbers have gaps once retention deleted some.
  const from = Math.max(0, numbers.length - CHECKPOINT_VERSIONS - 1);
  const wanted = numbers.slice(from);
  const recent = numbers.slice(-CHECKPOINT_VERSIONS);
  const manifests = new Map(
    await Promise.all(
      wanted.map(async (v) => [v, (await client.getVersion(key, 'modeldir', v)).version.manifest] as const),
    ),
  );
  for (const v of recent) {
    const m = manifests.get(v);
    const before = numbers[numbers.indexOf(v) - 1];
    if (m) out.set(v, checkpointReport(m, before === undefined ? null : (manifests.get(before) ?? null)));
  }
  return out;
}

/** `show`'s lines: the latest version's checkpoints, and what each recent version added. */
export function checkpointLines(reports: Map<number, CheckpointReport>): string[] {
  const versions = [...reports.keys()].sort((a, b) => a - b);
  const latest = versions[versions.length - 1];
  // A modeldir that never held a checkpoint (most runs leave it empty) says nothing.
  if (latest === undefined || versions.every((v) => reports.get(v)?.count === 0)) return [];
  const r = reports.get(latest) as CheckpointReport;
  const lines = [`modeldir@${latest}: ${r.count} checkpoint(s), ${formatBytes(r.bytes)}`];
  for (const c of r.checkpoints.slice(0, 20)) {
    const mark = c.change === 'same' ? '' : `  (${c.change})`;
    lines.push(`  ${c.name}  ${formatBytes(c.bytes)}${c.files > 1 ? ` in ${c.files} files` : ''}${mark}`);
  }
  if (r.count > 20) lines.push(`  … ${r.count - 20} more (show --json)`);
  const history = versions.slice(-10).map((v) => {
    const x = reports.get(v) as CheckpointReport;
    return `@${v} ${x.count} (+${x.fresh})`;
  });
  if (versions.length > 1) lines.push(`checkpoints per version (new or changed): ${history.join(', ')}`);
  return lines;
}
