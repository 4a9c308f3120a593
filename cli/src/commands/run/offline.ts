import { backendConfig, type CliConfig } from '../../config.ts';
import { ExitError } from '../../exit-error.ts';
import { markPending } from '../../home/pending-push.ts';
import type { Logger } from '../../logger.ts';

/** How long `offline: auto` waits for the deployment to answer before capturing here instead. */
export const REACH_TIMEOUT_MS = 5000;

/** True when the deployment answers HTTP at all (any status): it is reachable, whatever it then says. */
async function reachable(apiUrl: string): Promise<boolean> {
  try {
    const res = await fetch(`${apiUrl.replace(/\/+$/, '')}/v1/auth/config`, {
      signal: AbortSignal.timeout(REACH_TIMEOUT_MS),
    });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

export interface RunBackend {
  cfg: CliConfig;
  /** Set when the run goes to the embedded backend for a deployment: marks the experiment for `push --pending`. */
  markPending: ((key: string) => void) | null;
}

/**
 * Where a run goes: the configured deployment, or, with --offline (or config `offline: auto` when the deployment does
 * not answer), the embedded backend of this home with a pending marker naming the deployment, so
 * `studio-lite push --pending` sends it later. A queued run needs the deployment's workers: never offline.
 */
export async function runBackend(
  cfg: CliConfig,
  o: { offline: boolean; queued: boolean },
  log: Logger,
): Promise<RunBackend> {
  const none: RunBackend = { cfg, markPending: null };
  if (!cfg.apiUrl) return none;
  let why: string;
  if (o.offline) why = '--offline';
  else if (cfg.offline === 'auto' && !o.queued && !(await reachable(cfg.apiUrl))) {
    why = `${cfg.apiUrl} does not answer (offline: auto)`;
  } else return none;
  if (o.queued) throw new ExitError(2, '--offline runs here: it cannot be combined with --queue', 'E_BAD_REQUEST');
  const to = cfg.apiUrl;
  const team = cfg.team;
  log.info(
    `studio-lite: ${why}: capturing into the embedded backend of this machine; send it with \`studio-lite push --pending\``,
  );
  return {
    cfg: backendConfig(cfg, null),
    markPending: (key) => markPending(cfg.home, { key, to, team, at: new Date().toISOString() }),
  };
}
