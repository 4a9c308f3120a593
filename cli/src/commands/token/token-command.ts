import { StudioError } from '@studio-lite/functions/contract';
import { formatLocalTime, table } from '../../format.ts';
import { type GlobalOpts, withConnection } from '../with-connection.ts';

const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3_600, s: 1 };

/** `90d`, `12h`, `3600s` -> seconds. Throws E_BAD_REQUEST (the server enforces the one-year limit). */
export function parseExpires(s: string): number {
  const m = /^(\d{1,9})([dhs])$/.exec(s.trim());
  const n = m ? Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number) : 0;
  if (!m || n < 1) throw new StudioError('E_BAD_REQUEST', `invalid --expires "${s}": use Nd, Nh or Ns (e.g. 90d)`);
  return n;
}

const when = formatLocalTime;

/** `studio-lite token create`: prints the secret once. */
export async function tokenCreateCommand(
  opts: GlobalOpts & {
    scope?: string[];
    expires?: string;
    json?: boolean;
    worker?: boolean;
    queue?: string;
    label?: string;
  },
) {
  const expiresInSeconds = opts.expires === undefined ? undefined : parseExpires(opts.expires);
  const scopes = opts.scope?.length ? opts.scope : undefined;
  if (opts.worker && !opts.queue) throw new StudioError('E_BAD_REQUEST', '--worker needs --queue NAME');
  if (!opts.worker && (opts.queue || opts.label))
    throw new StudioError('E_BAD_REQUEST', '--queue and --label need --worker');
  if (opts.worker && scopes)
    throw new StudioError('E_BAD_REQUEST', 'a worker token has no --scope: it can lease its queue only');
  await withConnection(opts, async ({ client }) => {
    const r = opts.worker
      ? await client.createWorkerToken({
          queue: opts.queue as string,
          ...(expiresInSeconds ? { expiresInSeconds } : {}),
          ...(opts.label ? { label: opts.label } : {}),
        })
      : await client.createToken({
          ...(scopes ? { scopes } : {}),
          ...(expiresInSeconds ? { expiresInSeconds } : {}),
        });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      [
        r.secret,
        '',
        `token ${r.token.id}: scopes ${r.token.scopes.join(',')}, expires ${when(r.token.expiresAt)} UTC`,
        'This secret cannot be shown again: store it now (only its hash is kept).',
        '',
      ].join('\n'),
    );
  });
}

/** `studio-lite token list`: id, scopes, created, expires, revoked (never a secret or hash). */
export async function tokenListCommand(opts: GlobalOpts & { json?: boolean; team?: string }) {
  await withConnection(opts, async ({ client }) => {
    const { tokens } = await client.listTokens(opts.team);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ tokens }, null, 2)}\n`);
      return;
    }
    const rows = tokens.map((t) => [
      t.id,
      t.kind,
      ...(opts.team ? [t.userId, t.label ?? ''] : []),
      t.scopes.join(','),
      when(t.createdAt),
      when(t.expiresAt),
      when(t.revokedAt),
    ]);
    const head = ['ID', 'KIND', ...(opts.team ? ['OWNER', 'LABEL'] : []), 'SCOPES', 'CREATED', 'EXPIRES', 'REVOKED'];
    process.stdout.write(`${table(head, rows)}\n`);
  });
}

/** `studio-lite token revoke ID`. */
export async function tokenRevokeCommand(id: string, opts: GlobalOpts & { json?: boolean }) {
  await withConnection(opts, async ({ client }) => {
    const { token } = await client.revokeToken(id);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(token, null, 2)}\n`);
      return;
    }
    process.stdout.write(`revoked token ${token.id} (at ${when(token.revokedAt)} UTC)\n`);
  });
}
