import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { Role, TokenBinding } from '../contract/model.ts';
import type { TokenRecord } from './model.ts';
import type { MetadataStore } from './ports.ts';

/** Personal/worker/job tokens: `slt_` + 32 random bytes; only the sha256 is stored. */
export const TOKEN_RE = /^slt_[A-Za-z0-9_-]{43}$/;

/** The role the owner of a bound token must keep on its team: minting a worker token needs admin, a job editor. */
export const BOUND_TOKEN_ROLE: Record<Exclude<TokenRecord['kind'], 'personal'>, Role> = {
  worker: 'admin',
  job: 'editor',
};

export function hashToken(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

export async function mintToken(
  meta: MetadataStore,
  input: {
    userId: string;
    kind: TokenRecord['kind'];
    scopes: string[];
    expiresAt: Date | null;
    now: Date;
    binding?: TokenBinding | null;
    label?: string | null;
  },
): Promise<{ secret: string; record: TokenRecord }> {
  const secret = `slt_${randomBytes(32).toString('base64url')}`;
  const record: TokenRecord = {
    id: randomUUID(),
    userId: input.userId,
    hash: hashToken(secret),
    kind: input.kind,
    scopes: input.scopes,
    createdAt: input.now.toISOString(),
    expiresAt: input.expiresAt ? input.expiresAt.toISOString() : null,
    revokedAt: null,
    binding: input.binding ?? null,
    label: input.label ?? null,
  };
  await meta.putToken(record);
  return { secret, record };
}
