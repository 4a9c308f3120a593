/**
 * RetentionStore on Cloud Firestore. Layout: `teams/{team}/retention/{id}`, id `_team` for the team's own policy and
 * `p_<project>` for a project's (the prefix keeps every project name apart from the team marker and makes names like
 * `.`, `..` or `__x__` valid ids), the RetentionPolicy as it is. Nobody but the API reads or writes it (firestore.rules
 * deny clients by the catch-all). A set replaces the document (last writer wins); a delete reads it and deletes with a
 * `lastUpdateTime` precondition, retried, so of concurrent deletes exactly one returns the policy. teamsWithPolicies is
 * a collection group query on `retention` without filters or order (only document names, `select()`): it needs no
 * index of its own (firestore.indexes.json).
 */
import type { DocumentReference, Timestamp } from '@google-cloud/firestore';
import { StudioError } from '../../contract/errors.ts';
import type { RetentionPolicy } from '../../contract/model.ts';
import type { RetentionStore } from '../../core/ports.ts';
import { type FirestoreOptions, firestoreClient, guard, optimistic, teamCollection, validId } from './firestore-kit.ts';

export type FirestoreRetentionStoreOptions = FirestoreOptions;

/** The document id of the team's own policy; project ids are `p_<project>`, so no project can take it. */
export const TEAM_POLICY_ID = '_team';
const COLLECTION = 'retention';

export const retentionDocId = (project: string | null) => (project === null ? TEAM_POLICY_ID : `p_${project}`);

/** Team first, then by project (UTF-16 order, as in every adapter). */
const teamFirst = (a: RetentionPolicy, b: RetentionPolicy) => {
  const [x, y] = [a.project ?? '', b.project ?? ''];
  return x === y ? 0 : x < y ? -1 : 1;
};

/** Import lazily: loads the Firestore SDK. */
export function createFirestoreRetentionStore(
  opts: FirestoreRetentionStoreOptions,
): RetentionStore & { close(): Promise<void> } {
  const { db, close } = firestoreClient(opts);
  /** The policy's document, or null when Firestore cannot hold its ids (no project is named ''). */
  const ref = (team: string, project: string | null): DocumentReference | null =>
    validId(team) && project !== '' && validId(retentionDocId(project))
      ? teamCollection(db, team, COLLECTION).doc(retentionDocId(project))
      : null;

  return {
    setPolicy: (p) =>
      guard('retention set', async () => {
        const r = ref(p.team, p.project);
        if (!r) throw new StudioError('E_BAD_REQUEST', `invalid retention policy identifier "${p.team}/${p.project}"`);
        await r.set({ ...p });
      }),
    async getPolicy(team, project) {
      const r = ref(team, project);
      if (!r) return null;
      return guard('retention get', async () => {
        const snap = await r.get();
        return snap.exists ? (snap.data() as RetentionPolicy) : null;
      });
    },
    async listPolicies(team) {
      if (!validId(team)) return [];
      return guard('retention list', async () => {
        const snap = await teamCollection(db, team, COLLECTION).get();
        return snap.docs.map((d) => d.data() as RetentionPolicy).sort(teamFirst);
      });
    },
    deletePolicy: (team, project) =>
      guard('retention delete', () =>
        optimistic('retention delete', async () => {
          const r = ref(team, project);
          if (!r) return null;
          const snap = await r.get();
          if (!snap.exists) return null;
          await r.delete({ lastUpdateTime: snap.updateTime as Timestamp });
          return snap.data() as RetentionPolicy;
        }),
      ),
    teamsWithPolicies: () =>
      guard('retention teams', async () => {
        const snap = await db.collectionGroup(COLLECTION).select().get();
        const teams = new Set<string>();
        for (const d of snap.docs) {
          // Only `teams/{team}/retention/{id}`: a collection group matches every collection of that name.
          const teamRef = d.ref.parent.parent;
          if (teamRef && teamRef.parent.id === 'teams' && teamRef.parent.parent === null) teams.add(teamRef.id);
        }
        return [...teams].sort();
      }),
    close,
  };
}
