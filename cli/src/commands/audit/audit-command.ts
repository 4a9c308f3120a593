import { StudioError } from '@studio-lite/functions/core/errors.ts';
import { AUDIT_ACTIONS } from '@studio-lite/functions/core/model.ts';
import { table } from '../../format.ts';
import { type GlobalOpts, withConnection } from '../with-connection.ts';

/** `studio-lite audit`: the team's audit log, newest first (team admins). */
export async function auditCommand(
  opts: GlobalOpts & { limit?: string; action?: string; before?: string; json?: boolean },
) {
  const limit = opts.limit === undefined ? undefined : Number(opts.limit);
  if (limit !== undefined && (!Number.isSafeInteger(limit) || limit < 1)) {
    throw new StudioError('E_BAD_REQUEST', `invalid --limit "${opts.limit}": a positive integer`);
  }
  if (opts.action !== undefined && !(AUDIT_ACTIONS as readonly string[]).includes(opts.action)) {
    throw new StudioError('E_BAD_REQUEST', `invalid --action "${opts.action}": one of ${AUDIT_ACTIONS.join(', ')}`);
  }
  await withConnection(opts, async ({ client }) => {
    const { entries } = await client.listAudit({ limit, action: opts.action, before: opts.before });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(entries, null, 2)}\n`);
      return;
    }
    const rows = entries.map((e) => [
      e.at.replace('T', ' ').slice(0, 19),
      e.action,
      e.actor.kind === 'personal' ? e.actor.userId : `${e.actor.userId} (${e.actor.kind})`,
      e.target,
      JSON.stringify(e.details),
    ]);
    process.stdout.write(`${table(['TIME (UTC)', 'ACTION', 'ACTOR', 'TARGET', 'DETAILS'], rows)}\n`);
  });
}
