import type { RetentionPolicy } from '../../contract/model.ts';

/**
 * Retention policies (core/retention.ts): at most one per team (project null) and one per project of the team. A set
 * replaces the whole policy. Errors: E_UNAVAILABLE when the backend cannot be reached; anything else E_INTERNAL.
 */
export interface RetentionStore {
  /** Creates or replaces the policy of (team, project). */
  setPolicy(policy: RetentionPolicy): Promise<void>;
  /** The policy of (team, project) (project null: the team's own), or null. */
  getPolicy(team: string, project: string | null): Promise<RetentionPolicy | null>;
  /** The team's policy and every project policy of the team, team first, then by project. */
  listPolicies(team: string): Promise<RetentionPolicy[]>;
  /** Removes the policy; returns it, or null when there was none. */
  deletePolicy(team: string, project: string | null): Promise<RetentionPolicy | null>;
  /** Teams that have at least one policy (what a scheduled run visits). */
  teamsWithPolicies(): Promise<string[]>;
}
