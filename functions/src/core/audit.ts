import { randomBytes } from 'node:crypto';
import { StudioError } from '../contract/errors.ts';
import type { AuditAction, AuditEntry, Principal } from '../contract/model.ts';
import { requireRole, requireUserCredential } from './authz.ts';
import type { CoreDeps } from './context.ts';

/** `<ms since epoch, 13 digits>-<per-process sequence, 4 base36>-<8 hex>`: lexical order is time order. */
export const AUDIT_ID_RE = /^\d{13}-[0-9a-z]{4}-[0-9a-f]{8}$/;
export const AUDIT_DEFAULT_LIMIT = 100;
export const AUDIT_MAX_LIMIT = 1000;

let lastMs = -1;
let seq = 0;

/** A new entry id at time `at`; ids from one process are strictly increasing even within one millisecond. */
export function newAuditId(at: Date): string {
  const ms = at.getTime();
  if (ms === lastMs) seq = (seq + 1) % 36 ** 4;
  else {
    lastMs = ms;
    seq = 0;
  }
  return `${String(ms).padStart(13, '0')}-${seq.toString(36).padStart(4, '0')}-${randomBytes(4).toString('hex')}`;
}

/**
 * The `before` bound of a listing: an entry id (the next page after that entry) or an ISO time (entries strictly
 * before it). Throws E_BAD_REQUEST for anything else.
 */
export function auditIdBound(before: string): string {
  if (AUDIT_ID_RE.test(before)) return before;
  const ms = /^\d{4}-\d{2}-\d{2}/.test(before) ? Date.parse(before) : Number.NaN;
  if (!Number.isFinite(ms) || ms < 0) {
    throw new StudioError('E_BAD_REQUEST', `invalid before "${before}": give an audit entry id or an ISO time`);
  }
  // A bare 13-digit prefix sorts before every id of that millisecond, so the bound is exclusive.
  return String(ms).padStart(13, '0');
}

/**
 * Appends one entry per team in `teams` (none: nothing is written). Called after the action succeeded; a failed
 * append fails the request, so e.g. signed URLs are never handed out unaudited.
 */
export async function recordAudit(
  deps: CoreDeps,
  p: Principal,
  teams: string | string[],
  action: AuditAction,
  target: string,
  details: Record<string, unknown> = {},
): Promise<void> {
  const at = deps.now();
  for (const team of typeof teams === 'string' ? [teams] : teams) {
    await deps.audit.append({
      id: newAuditId(at),
      team,
      at: at.toISOString(),
      actor: { userId: p.userId, tokenId: p.tokenId, kind: p.kind },
      action,
      target,
      details,
    });
  }
}

/** A team's audit entries, newest first: team admins only, with their own credential (never a worker/job token). */
export async function listAudit(
  deps: CoreDeps,
  p: Principal,
  team: string,
  q: { limit?: number | undefined; before?: string | undefined; action?: AuditAction | undefined },
): Promise<AuditEntry[]> {
  requireUserCredential(p, 'read the audit log');
  requireRole(p, team, 'admin');
  const limit = q.limit ?? AUDIT_DEFAULT_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > AUDIT_MAX_LIMIT) {
    throw new StudioError('E_BAD_REQUEST', `limit must be an integer from 1 to ${AUDIT_MAX_LIMIT}`);
  }
  const before = q.before === undefined ? undefined : auditIdBound(q.before);
  return deps.audit.list(team, { limit, before, action: q.action });
}
