import { hostname } from 'node:os';
import type { ShowExperimentResponse } from '@studio-lite/functions/contract';
import { sameApiUrl } from '../../auth/saved-login.ts';
import { BlobCache } from '../../cache/blob-cache.ts';
import { backendConfig, loadConfig } from '../../config.ts';
import { type Connection, connect } from '../../connect.ts';
import { ExitError } from '../../exit-error.ts';
import { formatBytes } from '../../format.ts';
import { cliPaths } from '../../home/cli-home.ts';
import { clearPending, listPending } from '../../home/pending-push.ts';
import { createLogger } from '../../logger.ts';
import { startProgress } from '../../progress.ts';
import { type ExperimentPushResult, inspectTarget, pushExperiment } from './push-experiment.ts';
import { planPush } from './push-plan.ts';

export interface PushOpts {
  config?: string;
  quiet?: boolean;
  debug?: boolean;
  all?: boolean;
  project?: string;
  pending?: boolean;
  from?: string;
  to?: string;
  team?: string;
  fromTeam?: string;
  as?: string;
  prefix?: string;
  withLineage?: boolean;
  dryRun?: boolean;
  json?: boolean;
}

/** `local`, or an API URL without its trailing slash. */
function backendName(where: string, flag: string): string {
  if (where === 'local') return where;
  let u: URL;
  try {
    u = new URL(where);
  } catch {
    throw new ExitError(2, `${flag} must be local or an API URL (http:// or https://), not ${where}`, 'E_BAD_REQUEST');
  }
  if (u.protocol !== 'http:' && u.protocol !== 'https:') {
    throw new ExitError(2, `${flag} must be local or an http(s) API URL, not ${where}`, 'E_BAD_REQUEST');
  }
  return where.replace(/\/+$/, '');
}

async function allKeys(conn: Connection, project: string | undefined): Promise<string[]> {
  const keys: string[] = [];
  let cursor: string | undefined;
  do {
    const page = await conn.client.listExperiments({ project, limit: 1000, cursor });
    for (const e of page.experiments) keys.push(e.key);
    cursor = page.nextCursor ?? undefined;
  } while (cursor);
  return keys.reverse(); // oldest first
}

/**
 * `studio-lite push`: copies experiments from one backend to another (embedded <-> a deployment, or between two
 * deployments this home has logins for) with every version, its manifest and blobs (only those the target team
 * lacks travel), lineage, attempts and times. Idempotent; an interrupted push is finished by running it again.
 */
export async function pushCommand(keys: string[], opts: PushOpts): Promise<void> {
  const cfg = await loadConfig(opts.config);
  const log = createLogger({ quiet: opts.quiet || opts.json, debug: opts.debug });
  const pending = opts.pending ? listPending(cfg.home) : [];
  let to = opts.to;
  if (to === undefined && opts.pending) {
    const targets = [...new Set(pending.map((p) => p.to))];
    if (targets.length > 1) {
      throw new ExitError(
        2,
        `pending experiments are for ${targets.join(' and ')}: choose one with --to`,
        'E_BAD_REQUEST',
      );
    }
    to = targets[0] ?? cfg.apiUrl ?? undefined;
  }
  if (to === undefined) throw new ExitError(2, 'push needs --to <api-url> (or --to local)', 'E_BAD_REQUEST');
  const target = backendName(to, '--to');
  const from = backendName(opts.from ?? 'local', '--from');
  if (target === from) throw new ExitError(2, `--from and --to are both ${from}`, 'E_BAD_REQUEST');
  if (!keys.length && !opts.all && opts.project === undefined && !opts.pending) {
    throw new ExitError(2, 'name experiments to push, or --all, --project P or --pending', 'E_BAD_REQUEST');
  }
  const mine = pending.filter((p) => sameApiUrl(p.to, target));
  if (opts.pending && !mine.length && !keys.length && !opts.all && opts.project === undefined) {
    print(opts, emptySummary(from, target, Boolean(opts.dryRun)), log, `nothing pending for ${target}`);
    return;
  }
  const targetTeam = opts.team ?? mine[0]?.team ?? null;
  const src = await connect(backendConfig(cfg, from === 'local' ? null : from, opts.fromTeam ?? null), {
    transfers: true,
  });
  try {
    const dst = await connect(backendConfig(cfg, target === 'local' ? null : target, targetTeam), { transfers: true });
    try {
      const selected = opts.all || opts.project !== undefined ? await allKeys(src, opts.project) : [];
      const plan = await planPush(src.client, {
        named: keys,
        selected: [...selected, ...mine.map((p) => p.key)],
        withLineage: Boolean(opts.withLineage),
        as: opts.as,
        prefix: opts.prefix,
      });
      await requireExternalLineage(dst, plan.external);
      const summary = emptySummary(from, target, Boolean(opts.dryRun));
      summary.skipped = plan.skipped;
      // Every conflict before the first write: a push refused for one experiment stores none of the others.
      const targets: (ShowExperimentResponse | null)[] = [];
      for (const it of plan.items) targets.push(await inspectTarget(dst.client, it));
      const cache = new BlobCache(cliPaths(cfg.home).blobcache);
      const progress = startProgress(log, 'push');
      let moved = 0;
      try {
        for (const [i, it] of plan.items.entries()) {
          const r = await pushExperiment(
            {
              source: src.client,
              target: dst.client,
              cache,
              log,
              sessionDir: cliPaths(cfg.home).uploads,
              onBytes: (d) => {
                moved += d;
                progress.update({ phase: it.target, bytes: moved });
              },
              from,
              host: hostname(),
              dryRun: Boolean(opts.dryRun),
            },
            it,
            plan.items,
            targets[i] ?? null,
          );
          add(summary, r);
          if (!opts.dryRun && mine.some((p) => p.key === it.source)) clearPending(cfg.home, it.source);
          log.info(describe(r));
        }
      } finally {
        progress.stop();
        cache.stats.close();
      }
      print(opts, summary, log, headline(summary));
    } finally {
      await dst.close();
    }
  } finally {
    await src.close();
  }
}

/** Lineage to experiments outside this push: the target must hold those very versions. */
async function requireExternalLineage(
  dst: Connection,
  external: { experiment: string; tag: string; version: number; digest: string | null }[],
): Promise<void> {
  const missing: string[] = [];
  for (const l of external) {
    const name = `${l.experiment}/${l.tag}@${l.version}`;
    try {
      const { version } = await dst.client.getVersion(l.experiment, l.tag, l.version);
      if (l.digest !== null && version.digest !== l.digest) missing.push(`${name} (other content there)`);
    } catch (err) {
      if ((err as { code?: string }).code !== 'E_NOT_FOUND') throw err;
      missing.push(name);
    }
  }
  if (missing.length) {
    throw new ExitError(
      2,
      `lineage not on the target: ${missing.join(', ')}; push those experiments too (--with-lineage)`,
      'E_CONFLICT',
    );
  }
}

interface PushSummary {
  from: string;
  to: string;
  dryRun: boolean;
  /** Experiments this push created or changed on the target (with --dry-run: would). */
  experiments: number;
  /** Versions created (would be). */
  versions: number;
  uploadedBlobs: number;
  uploadedBytes: number;
  /** Blobs of pushed versions the target team had already. */
  presentBlobs: number;
  downloadedBytes: number;
  upToDate: number;
  skipped: { key: string; reason: string }[];
  results: ExperimentPushResult[];
}

function emptySummary(from: string, to: string, dryRun: boolean): PushSummary {
  return {
    from,
    to,
    dryRun,
    experiments: 0,
    versions: 0,
    uploadedBlobs: 0,
    uploadedBytes: 0,
    presentBlobs: 0,
    downloadedBytes: 0,
    upToDate: 0,
    skipped: [],
    results: [],
  };
}

function add(s: PushSummary, r: ExperimentPushResult): void {
  s.results.push(r);
  if (r.outcome === 'up-to-date') s.upToDate += 1;
  else s.experiments += 1;
  s.versions += r.versions;
  s.uploadedBlobs += r.uploadedBlobs;
  s.uploadedBytes += r.uploadedBytes;
  s.presentBlobs += r.presentBlobs;
  s.downloadedBytes += r.downloadedBytes;
}

function describe(r: ExperimentPushResult): string {
  const name = r.source === r.target ? r.source : `${r.source} -> ${r.target}`;
  if (r.outcome === 'up-to-date') return `${name}: up to date`;
  if (r.outcome === 'would-push') {
    return `${name}: would push ${r.versions} version(s), at most ${formatBytes(r.bytes)}${r.created ? ' (new)' : ''}`;
  }
  return (
    `${name}: ${r.created ? 'created' : 'updated'}, ${r.versions} version(s), ` +
    `${r.uploadedBlobs} blob(s) sent (${formatBytes(r.uploadedBytes)}), ${r.presentBlobs} already there`
  );
}

function headline(s: PushSummary): string {
  const verb = s.dryRun ? 'would push' : 'pushed';
  const sent = s.dryRun ? '' : `, ${s.uploadedBlobs} blob(s) sent (${formatBytes(s.uploadedBytes)})`;
  const rest = [
    s.upToDate ? `${s.upToDate} up to date` : '',
    s.skipped.length ? `skipped ${s.skipped.map((k) => `${k.key} (${k.reason})`).join(', ')}` : '',
  ].filter(Boolean);
  return `${verb} ${s.experiments} experiment(s) to ${s.to}: ${s.versions} version(s)${sent}${rest.length ? `; ${rest.join('; ')}` : ''}`;
}

function print(opts: PushOpts, s: PushSummary, log: ReturnType<typeof createLogger>, line: string): void {
  if (opts.json) process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
  else if (!opts.quiet) process.stdout.write(`${line}\n`);
  else log.debug(line);
}
