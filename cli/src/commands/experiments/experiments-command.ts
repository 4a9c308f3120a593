import { formatDuration, formatLocalTime, table } from '../../format.ts';
import { type GlobalOpts, withConnection } from '../../shared/with-connection.ts';

/** `studio-lite experiments`: key, status, exit code, started, duration, artifacts. */
export async function experimentsCommand(opts: GlobalOpts & { project?: string; limit?: number; json?: boolean }) {
  await withConnection(opts, async ({ client }) => {
    const { experiments } = await client.listExperiments({ project: opts.project, limit: opts.limit });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ experiments }, null, 2)}\n`);
      return;
    }
    const rows = experiments.map((e) => {
      const end = e.finishedAt ? Date.parse(e.finishedAt) : Date.now();
      const dur = e.startedAt ? formatDuration(end - Date.parse(e.startedAt)) : '-';
      return [
        e.key,
        e.status,
        e.exitCode === null ? '-' : String(e.exitCode),
        formatLocalTime(e.startedAt),
        dur,
        e.artifacts.map((a) => `${a.tag}@${a.latestVersion}`).join(' ') || '-',
      ];
    });
    process.stdout.write(`${table(['KEY', 'STATUS', 'EXIT', 'STARTED', 'DURATION', 'ARTIFACTS'], rows)}\n`);
  });
}
