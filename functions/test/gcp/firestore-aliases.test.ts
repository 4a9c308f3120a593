import { randomBytes } from 'node:crypto';
import { Firestore } from '@google-cloud/firestore';
import { describe, expect, inject, it } from 'vitest';
import { createFirestoreAliasStore } from '../../src/adapters/gcp/firestore-alias-store.ts';
import { testAliasStore } from '../conformance/alias-store-suite.ts';
import { uid } from '../conformance/fixtures.ts';

const host = inject('firestoreHost');
process.env.FIRESTORE_EMULATOR_HOST = host;

const newProject = () => `demo-sl-alias-${randomBytes(4).toString('hex')}`;

async function wipe(projectId: string): Promise<void> {
  await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE' });
}

// Two clients on one project = two API instances racing on one alias.
testAliasStore({
  name: 'firestore (emulator)',
  async make() {
    const projectId = newProject();
    const clients = [new Firestore({ projectId, ignoreUndefinedProperties: true })];
    return {
      store: createFirestoreAliasStore({ projectId, firestore: clients[0] as Firestore }),
      async another() {
        const c = new Firestore({ projectId, ignoreUndefinedProperties: true });
        clients.push(c);
        return createFirestoreAliasStore({ projectId, firestore: c });
      },
      async cleanup() {
        for (const c of clients) await c.terminate();
        await wipe(projectId);
      },
    };
  },
});

describe('firestore aliases: layout', () => {
  it('one document per alias at teams/{team}/experiments/{key}/aliases/{tag}@{name}', async () => {
    const projectId = newProject();
    const firestore = new Firestore({ projectId, ignoreUndefinedProperties: true });
    try {
      const s = createFirestoreAliasStore({ projectId, firestore });
      const team = uid('team');
      const rec = {
        team,
        experiment: 'e1',
        tag: 'w',
        name: 'best',
        version: 2,
        updatedAt: new Date(0).toISOString(),
        updatedBy: 'alice',
      };
      await s.setAlias(rec);
      expect((await firestore.doc(`teams/${team}/experiments/e1/aliases/w@best`).get()).data()).toEqual(rec);
      // Ids Firestore cannot hold are "not found", never an error or another document.
      expect(await s.getAlias(team, '..', 'w', 'best')).toBeNull();
    } finally {
      await firestore.terminate();
      await wipe(projectId);
    }
  });
});
