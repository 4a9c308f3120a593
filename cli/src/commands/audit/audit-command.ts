import { AUDIT_ACTIONS, StudioError } from '@studio-lite/functions/contract';
import { formatLocalTime, table } from '../../format.ts';
import { type GlobalOpts, withConnection } from '../with-connection.ts';

/** `studio-lite audit`: the team's audit log, newest first (team admins). */
export async function auditCommand(
  opts: GlobalOpts & { limit?: number; action?: string; before?: string; json?: boolean },
) {
  // --limit is checked by its option parser (main.ts).
  const limit = opts.limit;
  if (opts.action !== undefined && !(AUDIT_ACTIONS as readonly string[]).includes(opts.action)) {
    throw new StudioError('E_BAD_REQUEST', `invalid --action "${opts.action}": one of ${AUDIT_ACTIONS.join(', ')}`);
  }
  await withConnection(opts, async ({ client }) => {
    const { entries } = await client.listAudit({ limit, action: opts.action, before: opts.before });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ entries }, null, 2)}\n`);
      return;
    }
    const rows = entries.map((e) => [
      formatLocalTime(e.at),
      e.action,
      e.actor.kind === 'personal' ? e.actor.userId : `${e.actor.userId} (${e.actor.kind})`,
      e.target,
      JSON.stringify(e.details),
    ]);
    process.stdout.write(`${table(['TIME', 'ACTION', 'ACTOR', 'TARGET', 'DETAILS'], rows)}\n`);
  });
}
