import { blobBytes, blobRequest } from '@studio-lite/functions/contract';
import { formatLocalTime, table } from '../../format.ts';
import { followJob } from '../../shared/follow-job.ts';
import { type GlobalOpts, withConnection } from '../../shared/with-connection.ts';
import { storageError } from '../../transfer/storage-error.ts';
import { followLocalOutput, localOutputFile, printLocalOutput } from './local-logs.ts';

const when = formatLocalTime;

/** `studio-lite jobs`: queued runs of the team, newest first. */
export async function jobsCommand(
  opts: GlobalOpts & { queue?: string; status?: string; limit?: number; json?: boolean },
): Promise<void> {
  await withConnection(opts, async (conn) => {
    const { jobs } = await conn.client.listJobs({
      ...(opts.queue ? { queue: opts.queue } : {}),
      ...(opts.status ? { status: opts.status.split(',') } : {}),
      ...(opts.limit ? { limit: opts.limit } : {}),
    });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ jobs }, null, 2)}\n`);
      return;
    }
    const rows = jobs.map((j) => [
      j.id,
      j.queue,
      j.status,
      String(j.attempt),
      j.worker?.host || j.worker?.id || '-',
      when(j.queuedAt),
      j.exitCode === null ? '-' : String(j.exitCode),
    ]);
    process.stdout.write(`${table(['EXPERIMENT', 'QUEUE', 'STATUS', 'ATTEMPT', 'WORKER', 'QUEUED', 'EXIT'], rows)}\n`);
  });
}

/** `studio-lite stop EXP` / `kill EXP`: a queued job ends now; a running one is signalled by its worker. */
export async function stopCommand(key: string, mode: 'stop' | 'kill', opts: GlobalOpts & { json?: boolean }) {
  await withConnection(opts, async (conn, _cfg, log) => {
    const { job } = await conn.client.stopJob(key, { mode });
    if (opts.json) process.stdout.write(`${JSON.stringify({ job }, null, 2)}\n`);
    else if (job.status === 'stopped') log.info(`studio-lite: ${key} stopped before it started`);
    else log.info(`studio-lite: ${mode} sent to ${key}; its worker acts on it within seconds`);
  });
}

/** `studio-lite logs EXP [-f]`: the run's captured output; -f follows a queued run until it ends. */
export async function logsCommand(key: string, opts: GlobalOpts & { follow?: boolean }): Promise<number> {
  return withConnection(
    opts,
    async (conn, cfg, log) => {
      // A run started here (not queued: `run --queue` writes no local output) has its live output on disk, also
      // before its first capture.
      const local = localOutputFile(cfg, key);
      if (local) {
        if (opts.follow) return followLocalOutput(conn.client, key, local);
        printLocalOutput(local);
        return 0;
      }
      if (opts.follow) return followJob(conn.client, key, log);
      const { version } = await conn.client.getVersion(key, 'output', 'latest');
      const file = version.manifest.files[0];
      if (file) {
        const signed = await conn.client.signDownloads(key, 'output', version.version, { sha256s: [file.sha256] });
        const req = blobRequest(signed, file.sha256);
        if (req && req.size > 0) {
          const res = await fetch(req.url, { headers: req.headers });
          if (!res.ok) throw await storageError(res, `download of the output of ${key}`);
          process.stdout.write(blobBytes(req, new Uint8Array(await res.arrayBuffer())));
        }
      }
      return 0;
    },
    { transfers: true },
  );
}
