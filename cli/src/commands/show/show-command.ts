import { assertExperimentKey } from '@studio-lite/functions/core/names.ts';
import { formatBytes, formatDuration, table } from '../../format.ts';
import { sanitizeLines } from '../../sanitize.ts';
import { type GlobalOpts, withConnection } from '../with-connection.ts';

/** `studio-lite show EXP`: the record plus every artifact version with size, file count and transfer figures. */
export async function showCommand(key: string, opts: GlobalOpts & { json?: boolean }) {
  assertExperimentKey(key);
  await withConnection(opts, async ({ client }) => {
    const r = await client.showExperiment(key);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      return;
    }
    const e = r.experiment;
    const end = e.finishedAt ? Date.parse(e.finishedAt) : Date.now();
    const lines = [
      `experiment  ${e.key}${e.project ? `  (project ${e.project})` : ''}`,
      `status      ${e.status}${e.exitCode === null ? '' : `  exit ${e.exitCode}`}${e.signal ? `  signal ${e.signal}` : ''}`,
      `command     ${e.command.join(' ')}`,
      `cwd         ${e.cwd ?? '-'}   host ${e.host ?? '-'}`,
      `started     ${e.startedAt ?? '-'}   duration ${e.startedAt ? formatDuration(end - Date.parse(e.startedAt)) : '-'}`,
    ];
    if (e.git)
      lines.push(`git         ${e.git.commit}${e.git.dirty ? ' (dirty)' : ''}${e.git.url ? `  ${e.git.url}` : ''}`);
    for (const l of e.lineage) lines.push(`reuses      ${l.experiment}/${l.tag}@${l.version} as ${l.as}`);
    for (const w of e.warnings.slice(0, 20)) lines.push(`warning     ${w}`);
    if (e.warnings.length > 20) lines.push(`warning     … ${e.warnings.length - 20} more (see --json)`);
    const rows = r.artifacts.flatMap((a) =>
      a.versions.map((v) => [
        `${a.tag}@${v.version}`,
        a.mutable ? 'mutable' : 'immutable',
        String(v.files),
        formatBytes(v.bytes),
        `${v.stats.uploadedBlobs} (${formatBytes(v.stats.uploadedBytes)})`,
        v.createdAt.replace('T', ' ').slice(0, 19),
      ]),
    );
    // Every line holds record text: sanitized one by one (the table sanitizes its cells).
    const text = sanitizeLines(lines);
    process.stdout.write(`${text}\n\n${table(['ARTIFACT', 'KIND', 'FILES', 'SIZE', 'UPLOADED', 'CREATED'], rows)}\n`);
  });
}
