// The shared Firestore helper on the emulator. The job store's own copy of the optimistic loop did not treat
// ALREADY_EXISTS as a lost race (the metadata store's did): a read-then-create that lost to a racer failed instead of
// reading again. These tests pin the one helper every Firestore adapter now uses.
import { randomBytes } from 'node:crypto';
import { Firestore, type Timestamp } from '@google-cloud/firestore';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { firestoreError, guard, need, optimistic, validId } from '../../src/adapters/gcp/firestore-kit.ts';
import { isStudioError } from '../../src/contract/errors.ts';

const host = inject('firestoreHost');
process.env.FIRESTORE_EMULATOR_HOST = host;
const projectId = `demo-sl-kit-${randomBytes(4).toString('hex')}`;
const db = new Firestore({ projectId, ignoreUndefinedProperties: true });

afterAll(async () => {
  await db.terminate();
  await fetch(`http://${host}/emulator/v1/projects/${projectId}/databases/(default)/documents`, { method: 'DELETE' });
});

describe('firestore kit', () => {
  it('optimistic: N racers doing read-then-create-or-update on one absent document all land (ALREADY_EXISTS is a lost race)', async () => {
    const ref = db.collection('kit').doc(`counter-${randomBytes(3).toString('hex')}`);
    const n = 8;
    let created = 0;
    await Promise.all(
      Array.from({ length: n }, () =>
        guard('bump', () =>
          optimistic('bump', async () => {
            const snap = await ref.get();
            // Every racer reads "absent" first, so all but one create() calls fail with ALREADY_EXISTS.
            if (!snap.exists) {
              await ref.create({ n: 1 });
              created++;
              return;
            }
            await ref.update({ n: (snap.get('n') as number) + 1 }, { lastUpdateTime: snap.updateTime as Timestamp });
          }),
        ),
      ),
    );
    expect(created).toBe(1);
    expect((await ref.get()).get('n')).toBe(n);
  }, 30_000);

  it('error mapping: StudioErrors pass, transient codes are E_UNAVAILABLE, others E_INTERNAL, with cause', () => {
    const unavailable = Object.assign(new Error('14 UNAVAILABLE'), { code: 14 });
    const denied = Object.assign(new Error('7 PERMISSION_DENIED'), { code: 7 });
    expect(firestoreError(unavailable, 'x').code).toBe('E_UNAVAILABLE');
    expect(firestoreError(unavailable, 'x').cause).toBe(unavailable);
    const e = firestoreError(denied, 'x');
    expect(isStudioError(e, 'E_INTERNAL')).toBe(true);
    expect(e.message).not.toMatch(/PERMISSION_DENIED/);
  });

  it('document ids that would address another path are invalid and refused for writes', () => {
    for (const bad of ['', 'a/b', '.', '..', '__x__', 'x'.repeat(1501)]) expect(validId(bad)).toBe(false);
    expect(validId('exp.1')).toBe(true);
    expect(() => need('ok', 'a/b')).toThrow(/invalid identifier/);
  });
});
