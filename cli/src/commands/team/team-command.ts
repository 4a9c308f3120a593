import { type Role, StudioError } from '@studio-lite/functions/contract';
import { table } from '../../format.ts';
import { rememberTeam } from '../../team-memory.ts';
import { type GlobalOpts, withConnection } from '../with-connection.ts';

type JsonOpt = GlobalOpts & { json?: boolean };
const ROLES: Role[] = ['viewer', 'editor', 'admin'];

const print = (v: unknown) => process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);

/** `--role` -> Role; E_BAD_REQUEST before anything is sent. */
export function parseRole(s: string | undefined): Role {
  const role = (s ?? 'viewer').toLowerCase();
  if (!(ROLES as string[]).includes(role)) {
    throw new StudioError('E_BAD_REQUEST', `invalid --role "${s}": use viewer, editor or admin`);
  }
  return role as Role;
}

/** `studio-lite team create ID`: the caller becomes its admin. */
export async function teamCreateCommand(id: string, opts: JsonOpt) {
  await withConnection(opts, async ({ client }, cfg, log) => {
    const { team } = await client.createTeam(id);
    // The first team you create becomes your default here, so a second team does not make every command ambiguous.
    rememberTeam(cfg.home, cfg.apiUrl, team.id, true);
    if (opts.json) return print(team);
    process.stdout.write(`created team ${team.id} (you are its admin)\n`);
    log.info(`add people with: studio-lite team add ${team.id} <user-or-email> --role editor`);
  });
}

/** `studio-lite team add TEAM USER --role R`: adds a member or changes their role (team admins). */
export async function teamAddCommand(team: string, user: string, opts: JsonOpt & { role?: string }) {
  const role = parseRole(opts.role);
  await withConnection(opts, async ({ client }) => {
    const r = await client.setMember(team, user, { role });
    if (opts.json) return print(r);
    const what = !r.changed
      ? `already ${role} in`
      : r.previousRole
        ? `changed from ${r.previousRole} to ${role} in`
        : `added as ${role} to`;
    process.stdout.write(`${r.member.userId} ${what} team ${team}\n`);
  });
}

/** `studio-lite team remove TEAM USER`: admins remove anyone, members themselves. */
export async function teamRemoveCommand(team: string, user: string, opts: JsonOpt) {
  await withConnection(opts, async ({ client }) => {
    const r = await client.removeMember(team, user);
    if (opts.json) return print(r);
    process.stdout.write(`removed ${r.userId} (${r.previousRole}) from team ${team}\n`);
  });
}

/** `studio-lite team list`: my teams and roles. */
export async function teamListCommand(opts: JsonOpt) {
  await withConnection(opts, async ({ client }) => {
    const { teams } = await client.listTeams();
    if (opts.json) return print({ teams });
    const rows = teams.map((t) => [
      t.id,
      t.role,
      t.effectiveRole === t.role ? '' : `(this token: ${t.effectiveRole ?? 'none'})`,
    ]);
    process.stdout.write(`${table(['TEAM', 'ROLE', ''], rows)}\n`);
  });
}

/** `studio-lite team members TEAM`. */
export async function teamMembersCommand(team: string, opts: JsonOpt) {
  await withConnection(opts, async ({ client }) => {
    const { members } = await client.listMembers(team);
    if (opts.json) return print({ members });
    const rows = members.map((m) => [m.userId, m.role, m.name ?? '-', m.email ?? '-']);
    process.stdout.write(`${table(['USER', 'ROLE', 'NAME', 'EMAIL'], rows)}\n`);
  });
}
