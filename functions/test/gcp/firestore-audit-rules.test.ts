import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  assertFails,
  assertSucceeds,
  initializeTestEnvironment,
  type RulesTestEnvironment,
} from '@firebase/rules-unit-testing';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { uid } from '../conformance/fixtures.ts';

// firestore.rules for the audit log: only the API writes it; team admins read it, nobody else.
const rulesPath = join(import.meta.dirname, '../../../firestore.rules');
const [host, port] = inject('firestoreHost').split(':') as [string, string];

const team = 'team-a';
const otherTeam = 'team-b';
const entryPath = `teams/${team}/audit/0001893456000000-0000-0000abcd`;
const entryData = { id: '0001893456000000-0000-0000abcd', team, action: 'member.add', target: 'vera' };

let env: RulesTestEnvironment;

beforeAll(async () => {
  env = await initializeTestEnvironment({
    projectId: `demo-sl-audit-rules-${uid('p').slice(2)}`,
    firestore: { host, port: Number(port), rules: readFileSync(rulesPath, 'utf8') },
  });
  await env.withSecurityRulesDisabled(async (ctx) => {
    const db = ctx.firestore();
    const docs: Record<string, object> = {
      [`teams/${team}/members/ada`]: { team, userId: 'ada', role: 'admin' },
      [`teams/${team}/members/eddie`]: { team, userId: 'eddie', role: 'editor' },
      [`teams/${team}/members/vera`]: { team, userId: 'vera', role: 'viewer' },
      [`teams/${otherTeam}/members/otto`]: { team: otherTeam, userId: 'otto', role: 'admin' },
      [entryPath]: entryData,
      [`teams/${otherTeam}/audit/0001893456000000-0000-0000ffff`]: { team: otherTeam, action: 'team.create' },
    };
    await Promise.all(Object.entries(docs).map(([path, data]) => db.doc(path).set(data)));
  });
}, 30_000);

afterAll(async () => {
  await env?.cleanup();
});

describe('firestore.rules: audit log', () => {
  it('a team admin reads the entries (document and listing) of their own team only', async () => {
    const db = env.authenticatedContext('ada').firestore();
    await assertSucceeds(db.doc(entryPath).get());
    const list = await assertSucceeds(db.collection(`teams/${team}/audit`).get());
    expect(list.docs.map((d) => d.get('target'))).toEqual(['vera']);
    await assertFails(db.collection(`teams/${otherTeam}/audit`).get());
    await assertFails(db.collectionGroup('audit').get());
  });

  it.each([
    ['editor', 'eddie'],
    ['viewer', 'vera'],
    ['admin of another team', 'otto'],
    ['signed-in non-member', 'nobody'],
  ])('%s cannot read it', async (_name, user) => {
    const db = env.authenticatedContext(user).firestore();
    await assertFails(db.doc(entryPath).get());
    await assertFails(db.collection(`teams/${team}/audit`).get());
  });

  it('an admin claim does not replace membership; unauthenticated reads fail', async () => {
    await assertFails(env.authenticatedContext('root', { admin: true }).firestore().doc(entryPath).get());
    await assertFails(env.unauthenticatedContext().firestore().doc(entryPath).get());
  });

  it.each([
    ['team admin', () => env.authenticatedContext('ada')],
    ['editor', () => env.authenticatedContext('eddie')],
    ['unauthenticated', () => env.unauthenticatedContext()],
  ])('%s cannot create, rewrite or delete entries', async (_name, ctx) => {
    const db = ctx().firestore();
    await assertFails(db.doc(entryPath).set({ ...entryData, target: 'forged' }));
    await assertFails(db.doc(entryPath).update({ target: 'forged' }));
    await assertFails(db.doc(entryPath).delete());
    await assertFails(db.doc(`teams/${team}/audit/9999999999999-0000-00000000`).set(entryData));
    await assertFails(db.collection(`teams/${team}/audit`).add(entryData));
  });

  it('the entry is unchanged after the refused writes', async () => {
    await env.withSecurityRulesDisabled(async (ctx) => {
      expect((await ctx.firestore().doc(entryPath).get()).data()).toEqual(entryData);
    });
  });
});
