import { randomBytes } from 'node:crypto';
import { Firestore } from '@google-cloud/firestore';
import { describe, expect, inject, it } from 'vitest';
import { createFirestoreAuditLog } from '../../src/adapters/gcp/firestore-audit-log.ts';
import { entry, testAuditLog } from '../conformance/audit-log-suite.ts';
import { expectCode, uid } from '../conformance/fixtures.ts';

const host = inject('firestoreHost');
process.env.FIRESTORE_EMULATOR_HOST = host;

const newProject = () => `demo-sl-audit-${randomBytes(4).toString('hex')}`;

async function wipe(projectId: string): Promise<void> {
  await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE' });
}

testAuditLog({
  name: 'firestore (emulator)',
  async make() {
    const projectId = newProject();
    const firestore = new Firestore({ projectId, ignoreUndefinedProperties: true });
    return {
      log: createFirestoreAuditLog({ projectId, firestore }),
      async cleanup() {
        await firestore.terminate();
        await wipe(projectId);
      },
    };
  },
});

describe('firestore audit log: layout', () => {
  it('one create-only document per entry at teams/{team}/audit/{id}, with the id as a field', async () => {
    const projectId = newProject();
    const firestore = new Firestore({ projectId, ignoreUndefinedProperties: true });
    try {
      const log = createFirestoreAuditLog({ projectId, firestore });
      const team = uid('team');
      const e = entry(team, 1);
      await log.append(e);
      const snap = await firestore.doc(`teams/${team}/audit/${e.id}`).get();
      expect(snap.data()).toEqual(e);
      await expectCode(log.append({ ...e, target: 'forged' }), 'E_CONFLICT');
      expect((await firestore.doc(`teams/${team}/audit/${e.id}`).get()).get('target')).toBe(e.target);
      await expectCode(log.append({ ...e, id: '../x' }), 'E_BAD_REQUEST');
    } finally {
      await firestore.terminate();
      await wipe(projectId);
    }
  });
});
