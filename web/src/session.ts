import type { MyTeam, Role } from '@studio-lite/functions/contract';

/** Who is signed in and the team the pages act in: main.ts loads it, the pages read it. */
export interface Session {
  userId: string;
  team: string;
  role: Role;
  teams: MyTeam[];
}
