// The metadata ports' exclusive transitions under forced races on Firestore (emulator): the same suite as SQLite
// (functions/test/conformance/races-local.test.ts). Every racer is its own client (another function instance) whose
// document reads answer SLOW_MS late, so all racers read a record before any of them commits its compare-and-set.
import { randomBytes } from 'node:crypto';
import { DocumentReference, Firestore } from '@google-cloud/firestore';
import { inject } from 'vitest';
import { createFirestoreStores } from '../../src/adapters/gcp/firestore-stores.ts';
import { sleep } from '../conformance/fixtures.ts';
import { testStoreRaces } from '../conformance/store-races-suite.ts';

const host = inject('firestoreHost');
process.env.FIRESTORE_EMULATOR_HOST = host;
const SLOW_MS = 50;

// Reads of the clients in `slow` are delayed after they answered: the read is done, the write not yet made.
const slow = new WeakSet<Firestore>();
const get = DocumentReference.prototype.get;
DocumentReference.prototype.get = async function (this: DocumentReference) {
  const snap = await get.call(this);
  if (slow.has(this.firestore)) await sleep(SLOW_MS);
  return snap;
} as typeof get;
const getAll = Firestore.prototype.getAll;
Firestore.prototype.getAll = async function (this: Firestore, ...args: Parameters<typeof getAll>) {
  const snaps = await getAll.apply(this, args);
  if (slow.has(this)) await sleep(SLOW_MS);
  return snaps;
} as typeof getAll;

testStoreRaces({
  name: `firestore (emulator), reads ${SLOW_MS} ms late`,
  async make() {
    const projectId = `demo-sl-races-${randomBytes(4).toString('hex')}`;
    const clients: Firestore[] = [];
    const client = () => {
      const c = new Firestore({ projectId, ignoreUndefinedProperties: true });
      clients.push(c);
      return c;
    };
    return {
      stores: createFirestoreStores({ projectId, firestore: client() }),
      racers: async (n) =>
        Array.from({ length: n }, () => {
          const c = client();
          slow.add(c);
          return createFirestoreStores({ projectId, firestore: c });
        }),
      async cleanup() {
        await Promise.all(clients.map((c) => c.terminate()));
        await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, {
          method: 'DELETE',
        });
      },
    };
  },
});
