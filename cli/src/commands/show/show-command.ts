import { assertExperimentKey } from '@studio-lite/functions/contract';
import { formatBytes, formatDuration, formatLocalTime, shellCommand, table } from '../../format.ts';
import { sanitizeLines } from '../../sanitize.ts';
import { type GlobalOpts, withConnection } from '../../shared/with-connection.ts';
import { checkpointLines, modeldirCheckpoints } from './modeldir-checkpoints.ts';

/**
 * `studio-lite show EXP`: the record plus every artifact version with size, file count and transfer figures, and the
 * checkpoints of the recent `modeldir` versions (`--json`: `checkpoints` on those versions).
 */
export async function showCommand(key: string, opts: GlobalOpts & { json?: boolean }) {
  assertExperimentKey(key);
  await withConnection(opts, async ({ client }) => {
    const r = await client.showExperiment(key);
    const checkpoints = await modeldirCheckpoints(client, key, r);
    if (opts.json) {
      const artifacts = r.artifacts.map((a) =>
        a.tag === 'modeldir'
          ? {
              ...a,
              versions: a.versions.map((v) =>
                checkpoints.has(v.version) ? { ...v, checkpoints: checkpoints.get(v.version) } : v,
              ),
            }
          : a,
      );
      process.stdout.write(`${JSON.stringify({ ...r, artifacts }, null, 2)}\n`);
      return;
    }
    const e = r.experiment;
    const end = e.finishedAt ? Date.parse(e.finishedAt) : Date.now();
    const lines = [
      `experiment  ${e.key}${e.project ? `  (project ${e.project})` : ''}`,
      `status      ${e.status}${e.exitCode === null ? '' : `  exit ${e.exitCode}`}${e.signal ? `  signal ${e.signal}` : ''}`,
      `command     ${shellCommand(e.command)}`,
      `cwd         ${e.cwd ?? '-'}   host ${e.host ?? '-'}`,
      `started     ${formatLocalTime(e.startedAt)}   duration ${e.startedAt ? formatDuration(end - Date.parse(e.startedAt)) : '-'}`,
    ];
    if (e.git)
      lines.push(`git         ${e.git.commit}${e.git.dirty ? ' (dirty)' : ''}${e.git.url ? `  ${e.git.url}` : ''}`);
    if (e.lastSeenAt && (e.status === 'running' || e.status === 'lost')) lines.push(`last seen   ${e.lastSeenAt}`);
    // Every attempt (first run and each --resume) keeps its own status, command and exit code.
    const attempts = e.attempts ?? [];
    if (attempts.length > 1) {
      for (const a of attempts) {
        const exit = a.exitCode === null ? '' : ` exit ${a.exitCode}`;
        const seen = a.status === 'lost' && a.lastSeenAt ? ` (last seen ${a.lastSeenAt})` : '';
        lines.push(`attempt ${a.attempt}   ${a.status}${exit}${seen}  ${a.startedAt}  ${a.command.join(' ')}`);
      }
    }
    for (const l of e.lineage) lines.push(`reuses      ${l.experiment}/${l.tag}@${l.version} as ${l.as}`);
    if (e.push) {
      const state = e.push.complete ? '' : '  (incomplete: push again to finish)';
      lines.push(
        `pushed      from ${e.push.from} by ${e.push.by}${e.push.host ? ` on ${e.push.host}` : ''} ${formatLocalTime(e.push.at)}${state}`,
      );
    }
    for (const w of e.warnings.slice(0, 20)) lines.push(`warning     ${w}`);
    if (e.warnings.length > 20) lines.push(`warning     … ${e.warnings.length - 20} more (see --json)`);
    // Which aliases name each version; the column shows only when the experiment has any (`studio-lite alias`).
    const aliasesOf = (a: (typeof r.artifacts)[number], v: number) =>
      (a.aliases ?? []).filter((x) => x.version === v).map((x) => x.name);
    const anyAlias = r.artifacts.some((a) => (a.aliases ?? []).length > 0);
    const rows = r.artifacts.flatMap((a) =>
      a.versions.map((v) => [
        `${a.tag}@${v.version}`,
        a.mutable ? 'mutable' : 'immutable',
        String(v.files),
        formatBytes(v.bytes),
        `${v.stats.uploadedBlobs} (${formatBytes(v.stats.uploadedBytes)})`,
        formatLocalTime(v.createdAt),
        ...(anyAlias ? [aliasesOf(a, v.version).join(', ') || '-'] : []),
      ]),
    );
    // Every line holds record text: sanitized one by one (the table sanitizes its cells).
    const text = sanitizeLines(lines);
    const excluded = r.artifacts.flatMap((a) =>
      a.versions.flatMap((v) => (v.stats.excluded ?? []).map((x) => `${a.tag}@${v.version} leaves out ${x}`)),
    );
    const ckpt = checkpointLines(checkpoints);
    const tail =
      (excluded.length ? `\n${sanitizeLines(excluded)}` : '') + (ckpt.length ? `\n${sanitizeLines(ckpt)}` : '');
    process.stdout.write(
      `${text}\n\n${table(['ARTIFACT', 'KIND', 'FILES', 'SIZE', 'UPLOADED', 'CREATED', ...(anyAlias ? ['ALIASES'] : [])], rows)}${tail}\n`,
    );
  });
}
