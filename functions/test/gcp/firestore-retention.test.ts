import { randomBytes } from 'node:crypto';
import { Firestore } from '@google-cloud/firestore';
import { describe, expect, inject, it } from 'vitest';
import { createFirestoreRetentionStore } from '../../src/adapters/gcp/firestore-retention-store.ts';
import type { RetentionPolicy } from '../../src/contract/model.ts';
import { at, expectCode, uid } from '../conformance/fixtures.ts';
import { testRetentionStore } from '../conformance/retention-store-suite.ts';

const host = inject('firestoreHost');
process.env.FIRESTORE_EMULATOR_HOST = host;

const newProject = () => `demo-sl-retention-${randomBytes(4).toString('hex')}`;

async function wipe(projectId: string): Promise<void> {
  await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE' });
}

// Two clients on one project = two API instances.
testRetentionStore({
  name: 'firestore (emulator)',
  async make() {
    const projectId = newProject();
    const clients = [new Firestore({ projectId, ignoreUndefinedProperties: true })];
    return {
      store: createFirestoreRetentionStore({ projectId, firestore: clients[0] as Firestore }),
      async another() {
        const c = new Firestore({ projectId, ignoreUndefinedProperties: true });
        clients.push(c);
        return createFirestoreRetentionStore({ projectId, firestore: c });
      },
      async cleanup() {
        for (const c of clients) await c.terminate();
        await wipe(projectId);
      },
    };
  },
});

describe('firestore retention: layout', () => {
  const policy = (team: string, project: string | null): RetentionPolicy => ({
    team,
    project,
    keepLast: 3,
    keepEvery: null,
    keepWithinHours: null,
    keepHourly: null,
    keepDaily: 7,
    expireDays: 30,
    updatedAt: at(1),
    updatedBy: 'alice',
  });

  it('teams/{team}/retention/_team and p_<project>; other collections named retention are not teams', async () => {
    const projectId = newProject();
    const firestore = new Firestore({ projectId, ignoreUndefinedProperties: true });
    try {
      const s = createFirestoreRetentionStore({ projectId, firestore });
      const team = uid('team');
      await s.setPolicy(policy(team, null));
      await s.setPolicy(policy(team, 'my project'));
      expect((await firestore.doc(`teams/${team}/retention/_team`).get()).data()).toEqual(policy(team, null));
      expect((await firestore.doc(`teams/${team}/retention/p_my project`).get()).data()).toEqual(
        policy(team, 'my project'),
      );
      // A `retention` collection elsewhere (not under a team) is no team with policies.
      await firestore.doc('users/u1/retention/x').set({ team: 'u1' });
      await firestore.doc(`teams/${team}/experiments/e1/retention/x`).set({ team: 'e1' });
      expect(await s.teamsWithPolicies()).toEqual([team]);
      // Ids Firestore cannot hold: a write is refused, a read finds nothing.
      await expectCode(s.setPolicy(policy(team, 'a/b')), 'E_BAD_REQUEST');
      await expectCode(s.setPolicy(policy('a/b', null)), 'E_BAD_REQUEST');
      expect(await s.getPolicy(team, 'a/b')).toBeNull();
      expect(await s.deletePolicy(team, 'a/b')).toBeNull();
      expect(await s.listPolicies('..')).toEqual([]);
    } finally {
      await firestore.terminate();
      await wipe(projectId);
    }
  });
});
