import type { Role, TeamRecord } from '../../contract/model.ts';
import type { TeamMember, UserRecord } from '../model.ts';

/**
 * Users, teams and who is a member of which team with which role (the Identity adapters and core/teams.ts build on
 * these). Errors: E_CONFLICT as documented per method, E_BAD_REQUEST for an identifier the store cannot hold,
 * E_UNAVAILABLE when unreachable.
 */
export interface AccountStore {
  /**
   * Creates or updates a user (a known user keeps its createdAt; its name is replaced, its email set when given).
   * Throws E_CONFLICT when another user has this (case-insensitive) email.
   */
  putUser(user: UserRecord): Promise<void>;
  /** The user or null. */
  getUser(id: string): Promise<UserRecord | null>;
  /** Every user, by id ascending (a shared box's `user list`; deployments have few hundred at most). */
  listUsers(): Promise<UserRecord[]>;
  /** The user whose (case-insensitive) email this is, or null. */
  findUserByEmail(email: string): Promise<UserRecord | null>;
  /** Creates a team record. Throws E_CONFLICT if it exists. */
  createTeam(team: TeamRecord): Promise<void>;
  /** The team record or null (teams made before records existed have members but no record). */
  getTeam(id: string): Promise<TeamRecord | null>;
  /**
   * Sets (null: removes) a role. With `keepAdmin`, throws E_CONFLICT when the change would leave the team without an
   * admin; the check and the write are one atomic step, so two admins demoting each other cannot both succeed.
   */
  setMembership(team: string, userId: string, role: Role | null, opts?: { keepAdmin?: boolean }): Promise<void>;
  /** The user's teams and roles, by team id. */
  getMemberships(userId: string): Promise<Record<string, Role>>;
  /** The team's members, by user id ascending. */
  listTeamMembers(team: string): Promise<TeamMember[]>;
}
