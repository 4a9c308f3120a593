import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetadataPorts } from '../../src/core/ports.ts';
import { at, expectCode, uid, user } from './fixtures.ts';
import type { MetadataHarness, MetadataSuiteOptions } from './metadata-harness.ts';

/** The AccountStore port contract (core/ports/), run against every adapter; setup may use the other metadata ports. */
export function testAccountStore(opts: MetadataSuiteOptions): void {
  describe(`AccountStore conformance: ${opts.name}`, () => {
    let h: MetadataHarness;
    let store: MetadataPorts;
    let team: string;
    let other: string;

    beforeEach(async () => {
      h = await opts.make();
      store = h.stores;
      team = uid('team-a');
      other = uid('team-b');
    });
    afterEach(async () => {
      await h.cleanup();
    });

    describe('users and memberships', () => {
      it('putUser/getUser round-trip; put again updates; unknown id gives null', async () => {
        const id = uid('user');
        await store.accounts.putUser(user(id));
        expect(await store.accounts.getUser(id)).toEqual(user(id));
        await store.accounts.putUser(user(id, { name: 'Renamed' }));
        expect((await store.accounts.getUser(id))?.name).toBe('Renamed');
        expect(await store.accounts.getUser(uid('nobody'))).toBeNull();
      });

      it('listUsers lists every user by id ascending', async () => {
        const [b, a] = [uid('user-b'), uid('user-a')];
        await store.accounts.putUser(user(b));
        await store.accounts.putUser(user(a, { email: `${a}@example.org` }));
        const all = await store.accounts.listUsers();
        const ids = all.map((u) => u.id);
        expect(ids).toEqual([...ids].sort());
        expect(all.find((u) => u.id === a)).toEqual(user(a, { email: `${a}@example.org` }));
        expect(ids).toContain(b);
      });

      it('setMembership sets, changes and (with null) removes a role, per team', async () => {
        const u = uid('user');
        await store.accounts.putUser(user(u));
        expect(await store.accounts.getMemberships(u)).toEqual({});
        await store.accounts.setMembership(team, u, 'viewer');
        await store.accounts.setMembership(other, u, 'admin');
        expect(await store.accounts.getMemberships(u)).toEqual({ [team]: 'viewer', [other]: 'admin' });
        await store.accounts.setMembership(team, u, 'editor');
        expect(await store.accounts.getMemberships(u)).toEqual({ [team]: 'editor', [other]: 'admin' });
        await store.accounts.setMembership(other, u, null);
        expect(await store.accounts.getMemberships(u)).toEqual({ [team]: 'editor' });
        await store.accounts.setMembership(other, u, null);
        expect(await store.accounts.getMemberships(u)).toEqual({ [team]: 'editor' });
      });

      it('memberships are per user', async () => {
        const u1 = uid('user');
        const u2 = uid('user');
        await store.accounts.putUser(user(u1));
        await store.accounts.putUser(user(u2));
        await store.accounts.setMembership(team, u1, 'admin');
        expect(await store.accounts.getMemberships(u2)).toEqual({});
        await store.accounts.setMembership(team, u2, 'viewer');
        expect(await store.accounts.getMemberships(u1)).toEqual({ [team]: 'admin' });
        expect(await store.accounts.getMemberships(u2)).toEqual({ [team]: 'viewer' });
      });
    });

    describe('teams', () => {
      it('createTeam then getTeam; a second create is E_CONFLICT and keeps the first; unknown gives null', async () => {
        const rec = { id: team, createdBy: 'alice', createdAt: at(1) };
        await store.accounts.createTeam(rec);
        expect(await store.accounts.getTeam(team)).toEqual(rec);
        await expectCode(store.accounts.createTeam({ id: team, createdBy: 'mallory', createdAt: at(2) }), 'E_CONFLICT');
        expect(await store.accounts.getTeam(team)).toEqual(rec);
        expect(await store.accounts.getTeam(other)).toBeNull();
      });

      it('concurrent creates of one team: exactly one wins', async () => {
        const second = h.another ? await h.another() : store;
        const results = await Promise.allSettled(
          Array.from({ length: 6 }, (_, i) =>
            (i % 2 ? second : store).accounts.createTeam({ id: team, createdBy: `u${i}`, createdAt: at(i) }),
          ),
        );
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) {
          if (r.status === 'rejected') expect((r.reason as { code?: string }).code).toBe('E_CONFLICT');
        }
      });

      it('listTeamMembers: members of that team only, by user id, following every change', async () => {
        const [u1, u2, u3] = ['m-c', 'm-a', 'm-b'].map((p) => `${p}-${uid('u')}`) as [string, string, string];
        expect(await store.accounts.listTeamMembers(team)).toEqual([]);
        await store.accounts.setMembership(team, u1, 'admin');
        await store.accounts.setMembership(team, u2, 'viewer');
        await store.accounts.setMembership(other, u3, 'editor');
        expect(await store.accounts.listTeamMembers(team)).toEqual([
          { userId: u2, role: 'viewer' },
          { userId: u1, role: 'admin' },
        ]);
        await store.accounts.setMembership(team, u2, 'editor');
        await store.accounts.setMembership(team, u1, null);
        expect(await store.accounts.listTeamMembers(team)).toEqual([{ userId: u2, role: 'editor' }]);
        expect(await store.accounts.listTeamMembers(other)).toEqual([{ userId: u3, role: 'editor' }]);
      });

      it('keepAdmin: the last admin cannot be demoted or removed (E_CONFLICT, nothing changes); another can', async () => {
        const a = uid('admin');
        const b = uid('admin');
        await store.accounts.setMembership(team, a, 'admin');
        await store.accounts.setMembership(team, uid('viewer'), 'viewer');
        await expectCode(store.accounts.setMembership(team, a, 'editor', { keepAdmin: true }), 'E_CONFLICT');
        await expectCode(store.accounts.setMembership(team, a, null, { keepAdmin: true }), 'E_CONFLICT');
        expect(await store.accounts.getMemberships(a)).toEqual({ [team]: 'admin' });
        await store.accounts.setMembership(team, a, 'admin', { keepAdmin: true }); // no change in admins: fine
        await store.accounts.setMembership(team, b, 'admin', { keepAdmin: true });
        await store.accounts.setMembership(team, a, null, { keepAdmin: true });
        expect(await store.accounts.getMemberships(a)).toEqual({});
        // Removing a non-member or a non-admin is never refused.
        await store.accounts.setMembership(team, uid('ghost'), null, { keepAdmin: true });
        // Without keepAdmin the store does as told (bootstrap and repair paths).
        await store.accounts.setMembership(team, b, 'viewer');
        expect((await store.accounts.listTeamMembers(team)).filter((m) => m.role === 'admin')).toEqual([]);
      });

      it('two admins demoting each other at once: exactly one succeeds, one admin remains', async () => {
        const second = h.another ? await h.another() : store;
        for (let round = 0; round < 3; round++) {
          const t = uid('team-race');
          const a = uid('admin');
          const b = uid('admin');
          await store.accounts.setMembership(t, a, 'admin');
          await store.accounts.setMembership(t, b, 'admin');
          const results = await Promise.allSettled([
            store.accounts.setMembership(t, a, 'viewer', { keepAdmin: true }),
            second.accounts.setMembership(t, b, null, { keepAdmin: true }),
          ]);
          expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
          const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
          expect((failed.reason as { code?: string }).code).toBe('E_CONFLICT');
          expect((await store.accounts.listTeamMembers(t)).filter((m) => m.role === 'admin')).toHaveLength(1);
        }
      });
    });
  });
}
