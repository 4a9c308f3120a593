import { StudioError } from '../contract/errors.ts';
import type { Principal, TokenInfo } from '../contract/model.ts';
import { assertQueue } from '../contract/names.ts';
import { recordAudit } from './audit.ts';
import { requireRole, requireUserCredential } from './authz.ts';
import type { CoreDeps } from './context.ts';
import { tokenInfo } from './token-admin.ts';
import { mintToken } from './tokens.ts';

export const DEFAULT_WORKER_TOKEN_TTL_SECONDS = 90 * 24 * 3600;
export const MAX_WORKER_TOKEN_TTL_SECONDS = 365 * 24 * 3600;

/**
 * A worker token for one team and one queue, minted by a team admin: it can lease that queue's jobs and nothing
 * else (it reads and writes artifacts only through the job tokens each lease hands out). Shown once; only the
 * hash is stored; revoked like any token (`token revoke ID` by its creator).
 */
export async function createWorkerToken(
  deps: CoreDeps,
  p: Principal,
  team: string,
  input: { queue: string; expiresInSeconds?: number | undefined; label?: string | undefined },
): Promise<{ secret: string; token: TokenInfo }> {
  requireUserCredential(p, 'mint worker tokens');
  requireRole(p, team, 'admin');
  const queue = assertQueue(input.queue);
  const ttl = input.expiresInSeconds ?? DEFAULT_WORKER_TOKEN_TTL_SECONDS;
  if (!Number.isSafeInteger(ttl) || ttl < 1 || ttl > MAX_WORKER_TOKEN_TTL_SECONDS) {
    throw new StudioError('E_BAD_REQUEST', `expiresInSeconds must be 1..${MAX_WORKER_TOKEN_TTL_SECONDS} (one year)`);
  }
  const now = deps.now();
  const { secret, record } = await mintToken(deps.meta, {
    userId: p.userId,
    kind: 'worker',
    scopes: [`queue:${queue}`],
    expiresAt: new Date(now.getTime() + ttl * 1000),
    now,
    binding: { team, queue },
    label: input.label ?? `worker token for ${team}/${queue}`,
  });
  await recordAudit(deps, p, team, 'token.create', record.id, {
    owner: p.userId,
    kind: 'worker',
    queue,
    expiresAt: record.expiresAt,
  });
  return { secret, token: tokenInfo(record) };
}
