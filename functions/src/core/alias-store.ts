/** One named pointer at a version of one artifact (`exp/weights@best` -> version 3). */
export interface AliasRecord {
  team: string;
  experiment: string;
  tag: string;
  /** Lower-case name (core/aliases.ts assertAliasName); never `latest`, never numeric. */
  name: string;
  version: number;
  /** When and by whom it was last set or moved. */
  updatedAt: string;
  updatedBy: string;
}

/**
 * Version aliases, a port of their own (issue 13). Each write is atomic (SQLite transaction; Firestore read +
 * preconditioned write, retried), so of concurrent moves of one alias the last writer wins and every caller learns
 * the exact version it replaced. The store does not check that versions exist: the core does before it writes.
 * Errors: E_UNAVAILABLE when the backend cannot be reached or stays contended; anything else E_INTERNAL.
 */
export interface AliasStore {
  /** Points the alias at `rec.version` (creating or moving it). Returns the version it pointed at before, or null. */
  setAlias(rec: AliasRecord): Promise<{ previous: number | null }>;
  /** The alias or null. */
  getAlias(team: string, experiment: string, tag: string, name: string): Promise<AliasRecord | null>;
  /** The aliases of one artifact (or of every artifact of the experiment when `tag` is undefined), by tag then name. */
  listAliases(team: string, experiment: string, tag?: string): Promise<AliasRecord[]>;
  /** Removes the alias. Returns the removed record, or null when there was none. */
  deleteAlias(team: string, experiment: string, tag: string, name: string): Promise<AliasRecord | null>;
  /** Removes every alias of an experiment (it was deleted). Returns how many. */
  deleteExperimentAliases(team: string, experiment: string): Promise<number>;
}
