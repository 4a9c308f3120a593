import { StudioError } from '../../contract/errors.ts';
import type { Role, TeamRecord } from '../../contract/model.ts';
import type { UserRecord } from '../../core/model.ts';
import type { AccountStore } from '../../core/ports.ts';
import { isConstraintError, type SqliteDb, sqliteError } from './sqlite-db.ts';

type Row = Record<string, unknown>;

const toUser = (r: Row): UserRecord => ({
  id: r.id as string,
  name: r.name as string,
  email: (r.email as string | null) ?? null,
  createdAt: r.created_at as string,
});

function statements(db: SqliteDb['db']) {
  return {
    putUser: db.prepare(
      'INSERT INTO users (id, name, created_at, email) VALUES (?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name, email = COALESCE(excluded.email, users.email)',
    ),
    getUser: db.prepare('SELECT * FROM users WHERE id = ?'),
    listUsers: db.prepare('SELECT * FROM users ORDER BY id'),
    getUserByEmail: db.prepare('SELECT * FROM users WHERE email = ?'),
    setMember: db.prepare(
      'INSERT INTO memberships (team, user_id, role) VALUES (?, ?, ?) ON CONFLICT (team, user_id) DO UPDATE SET role = excluded.role',
    ),
    delMember: db.prepare('DELETE FROM memberships WHERE team = ? AND user_id = ?'),
    getMembers: db.prepare('SELECT team, role FROM memberships WHERE user_id = ?'),
    getRole: db.prepare('SELECT role FROM memberships WHERE team = ? AND user_id = ?'),
    countAdmins: db.prepare("SELECT COUNT(*) AS n FROM memberships WHERE team = ? AND role = 'admin'"),
    teamMembers: db.prepare('SELECT user_id, role FROM memberships WHERE team = ? ORDER BY user_id'),
    insertTeam: db.prepare('INSERT INTO teams (id, created_by, created_at) VALUES (?, ?, ?)'),
    getTeam: db.prepare('SELECT * FROM teams WHERE id = ?'),
  };
}

/** AccountStore on the local metadata database (users, teams, memberships). */
export function createSqliteAccountStore(sdb: SqliteDb): AccountStore {
  const q = statements(sdb.db);
  // The last-admin check and the write in one IMMEDIATE transaction: two admins demoting each other cannot both win.
  const setMember = sdb.write(
    'setMembership',
    (team: string, userId: string, role: Role | null, keepAdmin: boolean) => {
      if (keepAdmin && role !== 'admin') {
        const cur = q.getRole.get(team, userId) as Row | undefined;
        if (cur?.role === 'admin' && (q.countAdmins.get(team) as { n: number }).n <= 1) {
          throw new StudioError(
            'E_CONFLICT',
            `${userId} is the last admin of team ${team}; make someone else admin first`,
          );
        }
      }
      if (role === null) q.delMember.run(team, userId);
      else q.setMember.run(team, userId, role);
    },
  );

  return {
    async putUser(user) {
      try {
        q.putUser.run(user.id, user.name, user.createdAt, user.email ? user.email.toLowerCase() : null);
      } catch (cause) {
        if (!String((cause as Error).message).includes('UNIQUE')) throw sqliteError(cause, 'putUser');
        throw new StudioError('E_CONFLICT', `another user already has the email ${user.email}`, { cause });
      }
    },
    async getUser(id) {
      const r = q.getUser.get(id) as Row | undefined;
      return r ? toUser(r) : null;
    },
    async listUsers() {
      return (q.listUsers.all() as Row[]).map(toUser);
    },
    async findUserByEmail(email) {
      const r = q.getUserByEmail.get(email.toLowerCase()) as Row | undefined;
      return r ? toUser(r) : null;
    },
    async createTeam(team: TeamRecord) {
      try {
        q.insertTeam.run(team.id, team.createdBy, team.createdAt);
      } catch (cause) {
        if (!isConstraintError(cause)) throw sqliteError(cause, 'createTeam');
        throw new StudioError('E_CONFLICT', `team ${team.id} already exists`, { cause });
      }
    },
    async getTeam(id) {
      const r = q.getTeam.get(id) as Row | undefined;
      return r ? { id: r.id as string, createdBy: r.created_by as string, createdAt: r.created_at as string } : null;
    },
    async setMembership(team, userId, role, opts) {
      setMember(team, userId, role, opts?.keepAdmin === true);
    },
    async getMemberships(userId) {
      const out: Record<string, Role> = {};
      for (const r of q.getMembers.all(userId) as Row[]) out[r.team as string] = r.role as Role;
      return out;
    },
    async listTeamMembers(team) {
      return (q.teamMembers.all(team) as Row[]).map((r) => ({ userId: r.user_id as string, role: r.role as Role }));
    },
  };
}
