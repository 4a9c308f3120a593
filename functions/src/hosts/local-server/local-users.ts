import type { Principal, Role } from '../../contract/model.ts';
import { assertUserId } from '../../contract/names.ts';
import {
  type AddUserInput,
  type AddUserResult,
  addUser,
  checkAddUserInput,
  listUsersWithTeams,
  removeUser,
  type UserInfo,
} from '../../core/accounts.ts';
import type { CoreDeps } from '../../core/context.ts';
import { ensureLocalCredentials } from './local-backend.ts';

/** The box's own user (created at first use), who acts for `studio-lite user …` on a shared box. */
async function boxAdmin(deps: CoreDeps, home: string): Promise<Principal> {
  const creds = await ensureLocalCredentials(home, deps);
  return deps.identity.authenticate(creds.token);
}

/** `user add` on the embedded backend: core/accounts.ts addUser, acted by the box's local user. */
export async function addLocalUser(deps: CoreDeps, home: string, input: AddUserInput): Promise<AddUserResult> {
  // Bad input is refused before the first-use credentials are created.
  checkAddUserInput(input);
  return addUser(deps, await boxAdmin(deps, home), input);
}

/** `user list` on the embedded backend (core/accounts.ts listUsersWithTeams). */
export async function listLocalUsers(deps: CoreDeps, home: string): Promise<UserInfo[]> {
  await ensureLocalCredentials(home, deps);
  return listUsersWithTeams(deps);
}

/** `user remove` on the embedded backend: core/accounts.ts removeUser, acted by the box's local user. */
export async function removeLocalUser(
  deps: CoreDeps,
  home: string,
  id: string,
): Promise<{ userId: string; teams: Record<string, Role>; revokedTokens: number }> {
  assertUserId(id);
  return removeUser(deps, await boxAdmin(deps, home), id);
}
