import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertFails,
  assertSucceeds,
  initializeTestEnvironment,
  type RulesTestContext,
  type RulesTestEnvironment,
} from '@firebase/rules-unit-testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uid } from '../conformance/fixtures.ts';

// firestore.rules against the real emulator: clients never write; reads only for members of the owning team.
const rulesPath = join(import.meta.dirname, '../../../firestore.rules');
const [host, port] = inject('firestoreHost').split(':') as [string, string];

const team = 'team-a';
const otherTeam = 'team-b';
const exp = `teams/${team}/experiments/exp-1`;
const artifact = `${exp}/artifacts/out`;
const version = `${artifact}/versions/000000001`;
const foreign = `teams/${otherTeam}/experiments/exp-2`;

let env: RulesTestEnvironment;

beforeAll(async () => {
  env = await initializeTestEnvironment({
    projectId: `demo-sl-rules-${uid('p').slice(2)}`,
    firestore: { host, port: Number(port), rules: readFileSync(rulesPath, 'utf8') },
  });
  // The layout the Firestore adapter writes (see firestore-*-store.ts, firestore-blob-index.ts).
  await env.withSecurityRulesDisabled(async (ctx) => {
    const db = ctx.firestore();
    const docs: Record<string, object> = {
      [`teams/${team}/members/alice`]: { team, userId: 'alice', role: 'viewer' },
      [`teams/${otherTeam}/members/bob`]: { team: otherTeam, userId: 'bob', role: 'admin' },
      [exp]: { team, key: 'exp-1', status: 'finished', createdAt: '2030-01-01T00:00:00.000Z' },
      [artifact]: { tag: 'out', latestVersion: 1, mutable: true },
      [version]: { version: 1, digest: 'd' },
      [foreign]: { team: otherTeam, key: 'exp-2' },
      [`teams/${team}/blobs/${'a'.repeat(64)}`]: { size: 1, verified: true },
      [`teams/${team}/jobs/exp-1`]: { team, id: 'exp-1', queue: 'default', status: 'queued', attempt: 0 },
      [`teams/${team}/retention/_team`]: { team, project: null, keepLast: 3 },
      [`teams/${team}/retention/p_vision`]: { team, project: 'vision', keepLast: 5 },
      [`tokens/${'b'.repeat(64)}`]: { id: 'tok', userId: 'alice', scopes: ['*'] },
      'users/alice': { id: 'alice', name: 'Alice' },
      [`users/alice/teams/${team}`]: { team, role: 'viewer' },
    };
    await Promise.all(Object.entries(docs).map(([path, data]) => db.doc(path).set(data)));
  });
}, 30_000);

afterAll(async () => {
  await env?.cleanup();
});

const alice = () => env.authenticatedContext('alice'); // member of team-a
const contexts: [string, () => RulesTestContext][] = [
  ['member', alice],
  ['member with an admin claim', () => env.authenticatedContext('alice', { admin: true })],
  ['non-member (member of another team)', () => env.authenticatedContext('bob')],
  ['admin-claimed non-member', () => env.authenticatedContext('root', { admin: true })],
  ['unauthenticated', () => env.unauthenticatedContext()],
];

describe('firestore.rules: reads', () => {
  it('a member reads the team experiments, their artifacts and versions (docs and lists)', async () => {
    const db = alice().firestore();
    await assertSucceeds(db.doc(exp).get());
    await assertSucceeds(db.doc(artifact).get());
    await assertSucceeds(db.doc(version).get());
    const list = await assertSucceeds(db.collection(`teams/${team}/experiments`).get());
    expect(list.docs.map((d) => d.id)).toEqual(['exp-1']);
    await assertSucceeds(db.collection(`${artifact}/versions`).get());
  });

  it('a member reads nothing else: other teams, blobs, members, tokens, users', async () => {
    const db = alice().firestore();
    for (const path of [
      foreign,
      `teams/${team}/blobs/${'a'.repeat(64)}`,
      `teams/${team}/jobs/exp-1`,
      `teams/${team}/members/alice`,
      `tokens/${'b'.repeat(64)}`,
      'users/alice',
      `users/alice/teams/${team}`,
      `teams/${team}`,
    ]) {
      await assertFails(db.doc(path).get());
    }
    await assertFails(db.collection(`teams/${otherTeam}/experiments`).get());
    await assertFails(db.collectionGroup('experiments').get());
    await assertFails(db.collection('tokens').get());
    await assertFails(db.collection(`teams/${team}/jobs`).get());
  });

  it.each(contexts)(
    '%s cannot read retention policies (documents, the collection, the collection group)',
    async (_name, ctx) => {
      const db = ctx().firestore();
      await assertFails(db.doc(`teams/${team}/retention/_team`).get());
      await assertFails(db.doc(`teams/${team}/retention/p_vision`).get());
      await assertFails(db.collection(`teams/${team}/retention`).get());
      await assertFails(db.collectionGroup('retention').get());
    },
  );

  it.each([
    ['non-member', () => env.authenticatedContext('bob')],
    ['admin-claimed non-member', () => env.authenticatedContext('root', { admin: true })],
    ['unauthenticated', () => env.unauthenticatedContext()],
  ] as const)('%s cannot read the team experiments or their subcollections', async (_name, ctx) => {
    const db = ctx().firestore();
    for (const path of [exp, artifact, version]) await assertFails(db.doc(path).get());
    await assertFails(db.collection(`teams/${team}/experiments`).get());
    await assertFails(db.collection(`${exp}/artifacts`).get());
  });
});

describe('firestore.rules: nobody writes anything', () => {
  const paths = [
    exp, // existing
    `teams/${team}/experiments/new-exp`, // new
    artifact,
    `${artifact}/versions/000000002`,
    `teams/${team}/blobs/${'c'.repeat(64)}`,
    `teams/${team}/jobs/exp-1`, // existing job: a client must not lease, stop or finish it
    `teams/${team}/jobs/new-job`,
    `teams/${team}/retention/_team`, // existing policy: a client must not weaken it or lift it
    `teams/${team}/retention/p_vision`,
    `teams/${team}/retention/p_new`,
    `tokens/${'d'.repeat(64)}`,
    `teams/${team}/members/alice`, // self-promotion
    `teams/${team}/members/bob`, // self-admission
    'users/alice',
    `users/alice/teams/${otherTeam}`,
    `teams/${team}`,
    'anything/else',
  ];

  it.each(contexts)('%s: create, overwrite, update and delete are all refused', async (_name, ctx) => {
    const db = ctx().firestore();
    for (const path of paths) {
      await assertFails(db.doc(path).set({ role: 'admin', status: 'finished' }));
      await assertFails(db.doc(path).set({ role: 'admin' }, { merge: true }));
      await assertFails(db.doc(path).delete());
    }
    await assertFails(db.doc(exp).update({ status: 'lost' }));
    await assertFails(db.collection(`teams/${team}/experiments`).add({ key: 'x' }));
  });

  it('refused writes changed nothing', async () => {
    await env.withSecurityRulesDisabled(async (ctx) => {
      const db = ctx.firestore();
      expect((await db.doc(exp).get()).get('status')).toBe('finished');
      expect((await db.doc(`teams/${team}/members/alice`).get()).get('role')).toBe('viewer');
      expect((await db.doc(`teams/${team}/members/bob`).get()).exists).toBe(false);
      expect((await db.doc(`${artifact}/versions/000000002`).get()).exists).toBe(false);
      expect((await db.doc(`teams/${team}/jobs/exp-1`).get()).get('status')).toBe('queued');
      expect((await db.doc(`teams/${team}/jobs/new-job`).get()).exists).toBe(false);
      expect((await db.doc(`teams/${team}/retention/_team`).get()).get('keepLast')).toBe(3);
      expect((await db.doc(`teams/${team}/retention/p_vision`).get()).get('keepLast')).toBe(5);
      expect((await db.doc(`teams/${team}/retention/p_new`).get()).exists).toBe(false);
    });
  });
});
