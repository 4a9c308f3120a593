import { type Role, StudioError } from '@studio-lite/functions/contract';

const ROLES: Role[] = ['viewer', 'editor', 'admin'];

/** `--role` -> Role (default viewer); E_BAD_REQUEST before anything is sent. */
export function parseRole(s: string | undefined): Role {
  const role = (s ?? 'viewer').toLowerCase();
  if (!(ROLES as string[]).includes(role)) {
    throw new StudioError('E_BAD_REQUEST', `invalid --role "${s}": use viewer, editor or admin`);
  }
  return role as Role;
}

const UNIT_SECONDS: Record<string, number> = { d: 86_400, h: 3_600, s: 1 };

/** `--expires`: `90d`, `12h`, `3600s` -> seconds. Throws E_BAD_REQUEST (the server enforces the one-year limit). */
export function parseExpires(s: string): number {
  const m = /^(\d{1,9})([dhs])$/.exec(s.trim());
  const n = m ? Number(m[1]) * (UNIT_SECONDS[m[2] as string] as number) : 0;
  if (!m || n < 1) throw new StudioError('E_BAD_REQUEST', `invalid --expires "${s}": use Nd, Nh or Ns (e.g. 90d)`);
  return n;
}
