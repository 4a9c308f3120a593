import {
  describeRetention,
  type RetentionPolicy,
  type RetentionReport,
  type RetentionRules,
  versionRuns,
} from '@studio-lite/functions/contract';
import { parseDuration } from '../../duration.ts';
import { formatBytes, formatLocalTime, table } from '../../format.ts';
import { type GlobalOpts, withConnection } from '../../shared/with-connection.ts';

type Opts = GlobalOpts & { project?: string; json?: boolean; dryRun?: boolean };
type SetOpts = Opts & {
  keepLast?: number;
  keepEvery?: number;
  keepWithin?: string;
  keepHourly?: number;
  keepDaily?: number;
  expire?: string;
};

const out = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);

function printPolicies(policies: RetentionPolicy[]): void {
  if (!policies.length) {
    process.stdout.write('no retention policy: every version and experiment is kept\n');
    return;
  }
  const rows = policies.map((x) => [
    x.project ?? '(team)',
    describeRetention(x),
    x.updatedBy,
    formatLocalTime(x.updatedAt),
  ]);
  process.stdout.write(`${table(['SCOPE', 'POLICY', 'SET BY', 'SET'], rows)}\n`);
}

function printReport(r: RetentionReport): void {
  const verb = r.dryRun ? 'would delete' : 'deleted';
  const lines = [
    `${verb} ${r.versionsDeleted} version(s) (${formatBytes(r.bytes)} referenced) and ${r.expired.length} expired experiment(s); ${r.experiments} experiment(s) under a policy`,
  ];
  for (const d of r.deletions.slice(0, 50)) lines.push(`  ${d.experiment}/${d.tag}: ${versionRuns(d.versions)}`);
  if (r.deletions.length > 50) lines.push(`  … ${r.deletions.length - 50} more artifacts (--json)`);
  if (r.expired.length)
    lines.push(`  expired: ${r.expired.slice(0, 50).join(', ')}${r.expired.length > 50 ? ' …' : ''}`);
  if (r.protected.length) {
    lines.push(`protected (kept although a rule would delete them): ${r.protected.length}${r.truncated ? '+' : ''}`);
    for (const x of r.protected.slice(0, 20)) {
      lines.push(`  ${x.experiment}${x.tag ? `/${x.tag}@${x.version}` : ''}: ${x.reason}`);
    }
  }
  if (!r.dryRun && r.versionsDeleted + r.expired.length > 0) {
    lines.push('their blobs are freed by the next two `studio-lite gc` runs (condemned, then deleted after the grace)');
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

export async function retentionShowCommand(opts: Opts): Promise<void> {
  await withConnection(opts, async ({ client }) => {
    const { policies } = await client.listRetention();
    const shown = opts.project ? policies.filter((x) => x.project === opts.project || x.project === null) : policies;
    if (opts.json) out({ policies: shown });
    else printPolicies(shown);
  });
}

/** The rules the flags name (durations in hours/days), validated before anything is sent. */
function rulesOf(o: SetOpts): RetentionRules {
  return {
    keepLast: o.keepLast ?? null,
    keepEvery: o.keepEvery ?? null,
    keepWithinHours: o.keepWithin === undefined ? null : parseDuration(o.keepWithin, '--keep-within', 3600) / 3600,
    keepHourly: o.keepHourly ?? null,
    keepDaily: o.keepDaily ?? null,
    expireDays: o.expire === undefined ? null : parseDuration(o.expire, '--expire', 86_400) / 86_400,
  };
}

export async function retentionSetCommand(opts: SetOpts): Promise<void> {
  const rules = rulesOf(opts);
  const project = opts.project ?? null;
  await withConnection(opts, async ({ client }) => {
    if (opts.dryRun) {
      const report = await client.applyRetention({ dryRun: true, project, rules });
      if (opts.json) out({ policy: { project, ...rules }, report });
      else {
        process.stdout.write(`policy for ${project ?? 'the team'} (not saved): ${describeRetention(rules)}\n`);
        printReport(report);
      }
      return;
    }
    const { policy } = await client.setRetention({ project, ...rules });
    if (opts.json) out({ policy });
    else
      process.stdout.write(`retention for ${project ?? 'the team'}: ${describeRetention(policy as RetentionRules)}\n`);
  });
}

export async function retentionClearCommand(opts: Opts): Promise<void> {
  await withConnection(opts, async ({ client }) => {
    const { policy } = await client.clearRetention(opts.project ?? null);
    if (opts.json) out({ policy });
    else
      process.stdout.write(
        policy ? `removed the policy of ${opts.project ?? 'the team'}\n` : 'there was no such policy\n',
      );
  });
}

export async function retentionApplyCommand(opts: Opts): Promise<void> {
  await withConnection(opts, async ({ client }) => {
    const report = await client.applyRetention({ dryRun: Boolean(opts.dryRun), project: opts.project ?? null });
    if (opts.json) out(report);
    else printReport(report);
  });
}
