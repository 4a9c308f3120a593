import { isStudioError, type ListExperimentsResponse } from '@studio-lite/functions/contract';
import type { ApiClient } from '../../api-client.ts';
import { sameApiUrl } from '../../auth/saved-login.ts';
import { backendConfig, loadConfig } from '../../config.ts';
import { connect } from '../../connect.ts';
import { formatDuration, formatLocalTime, table } from '../../format.ts';
import { listPending, type PendingPush } from '../../home/pending-push.ts';
import { createLogger } from '../../logger.ts';
import type { GlobalOpts } from '../../shared/with-connection.ts';

type Opts = GlobalOpts & { project?: string; limit?: number; json?: boolean };

const list = (client: ApiClient, opts: Opts) => client.listExperiments({ project: opts.project, limit: opts.limit });

/**
 * `studio-lite experiments`: key, status, exit code, started, duration, artifacts. Runs captured offline for a
 * deployment (`run --offline`) and not pushed yet are marked on the embedded backend's list and named under a
 * deployment's (they are not in it); a deployment that does not answer while some are pending lists them from here.
 */
export async function experimentsCommand(opts: Opts) {
  const cfg = await loadConfig(opts.config);
  const log = createLogger({ quiet: opts.quiet, debug: opts.debug });
  const pending = listPending(cfg.home);
  // Pending for this deployment (none on the embedded backend itself).
  const away = cfg.apiUrl ? pending.filter((p) => sameApiUrl(p.to, cfg.apiUrl)) : [];
  const conn = await connect(cfg, { transfers: false });
  let res: ListExperimentsResponse;
  let local = !cfg.apiUrl;
  try {
    res = await list(conn.client, opts);
  } catch (err) {
    if (!(isStudioError(err, 'E_UNAVAILABLE') && away.length)) throw err;
    log.warn(`${cfg.apiUrl} does not answer; the experiments captured offline on this machine:`);
    const here = await connect(backendConfig(cfg, null), { transfers: false });
    try {
      const all = await list(here.client, opts);
      const keys = new Set(away.map((p) => p.key));
      res = { ...all, experiments: all.experiments.filter((e) => keys.has(e.key)) };
      local = true;
    } finally {
      await here.close();
    }
  } finally {
    await conn.close();
  }
  print(res, pending, local ? [] : away, local, opts, log);
}

function print(
  { experiments }: ListExperimentsResponse,
  pending: PendingPush[],
  away: PendingPush[],
  local: boolean,
  opts: Opts,
  log: ReturnType<typeof createLogger>,
): void {
  if (opts.json) {
    process.stdout.write(`${JSON.stringify({ experiments, pendingPush: pending }, null, 2)}\n`);
    return;
  }
  const marked = new Set(local ? pending.map((p) => p.key) : []);
  if (away.length) {
    log.info(
      `${away.length} experiment(s) captured offline for this deployment are not pushed yet: ` +
        `${away.map((p) => p.key).join(', ')} (studio-lite push --pending)`,
    );
  }
  const rows = experiments.map((e) => {
    const end = e.finishedAt ? Date.parse(e.finishedAt) : Date.now();
    const dur = e.startedAt ? formatDuration(end - Date.parse(e.startedAt)) : '-';
    return [
      marked.has(e.key) ? `${e.key} (not pushed)` : e.key,
      e.status,
      e.exitCode === null ? '-' : String(e.exitCode),
      formatLocalTime(e.startedAt),
      dur,
      e.artifacts.map((a) => `${a.tag}@${a.latestVersion}`).join(' ') || '-',
    ];
  });
  process.stdout.write(`${table(['KEY', 'STATUS', 'EXIT', 'STARTED', 'DURATION', 'ARTIFACTS'], rows)}\n`);
}
