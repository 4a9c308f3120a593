import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { MetadataPorts } from '../../src/core/ports.ts';
import { at, expectCode, sha256, token, uid, user } from './fixtures.ts';
import type { MetadataHarness, MetadataSuiteOptions } from './metadata-harness.ts';

/** The TokenStore port contract (core/ports/), run against every adapter; setup may use the other metadata ports. */
export function testTokenStore(opts: MetadataSuiteOptions): void {
  describe(`TokenStore conformance: ${opts.name}`, () => {
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

    describe('tokens', () => {
      it('putToken/getTokenByHash round-trip; unknown hash gives null', async () => {
        const u = uid('user');
        await store.accounts.putUser(user(u));
        const t = token(uid('tok'), u, { kind: 'worker', scopes: ['queue:default', 'read'], expiresAt: at(3600) });
        await store.tokens.putToken(t);
        expect(await store.tokens.getTokenByHash(t.hash)).toEqual(t);
        expect(await store.tokens.getTokenByHash(sha256(uid('unknown')))).toBeNull();
      });

      it('a second token with the same hash is E_CONFLICT, never an overwrite', async () => {
        const u = uid('user');
        await store.accounts.putUser(user(u));
        const t = token(uid('tok'), u);
        await store.tokens.putToken(t);
        await expectCode(store.tokens.putToken({ ...t, id: uid('tok2'), label: 'other' }), 'E_CONFLICT');
        expect(await store.tokens.getTokenByHash(t.hash)).toEqual(t);
      });

      it('revokeToken sets revokedAt and leaves other tokens alone', async () => {
        const u = uid('user');
        await store.accounts.putUser(user(u));
        const t1 = token(uid('tok'), u);
        const t2 = token(uid('tok'), u);
        await store.tokens.putToken(t1);
        await store.tokens.putToken(t2);
        await store.tokens.revokeToken(t1.id, at(500));
        expect(await store.tokens.getTokenByHash(t1.hash)).toEqual({ ...t1, revokedAt: at(500) });
        expect((await store.tokens.getTokenByHash(t2.hash))?.revokedAt).toBeNull();
      });

      it('listTokens: only the user own tokens, newest first, revoked ones included with revokedAt', async () => {
        const u = uid('user');
        const someoneElse = uid('user');
        await store.accounts.putUser(user(u));
        await store.accounts.putUser(user(someoneElse));
        expect(await store.tokens.listTokens(u)).toEqual([]);
        const old = token(uid('tok'), u, { createdAt: at(10) });
        const mid = token(uid('tok'), u, { createdAt: at(20), kind: 'job', scopes: ['read'], expiresAt: at(99) });
        const newest = token(uid('tok'), u, { createdAt: at(30) });
        const foreign = token(uid('tok'), someoneElse, { createdAt: at(25) });
        for (const t of [mid, foreign, newest, old]) await store.tokens.putToken(t);
        await store.tokens.revokeToken(mid.id, at(40));
        expect(await store.tokens.listTokens(u)).toEqual([newest, { ...mid, revokedAt: at(40) }, old]);
        expect(await store.tokens.listTokens(someoneElse)).toEqual([foreign]);
        expect(await store.tokens.listTokens(uid('nobody'))).toEqual([]);
      });

      it("listTeamTokens: the team's worker and job tokens of any owner, newest first; nothing else", async () => {
        const [a, b] = [uid('user'), uid('user')];
        for (const u of [a, b]) await store.accounts.putUser(user(u));
        const w = token(uid('tok'), a, { kind: 'worker', createdAt: at(10), binding: { team, queue: 'q' } });
        const j = token(uid('tok'), b, {
          kind: 'job',
          createdAt: at(20),
          binding: { team, experiment: 'e', attempt: 1, queuedAt: at(5), reads: [] },
        });
        const elsewhere = token(uid('tok'), a, { kind: 'worker', createdAt: at(30), binding: { team: other } });
        const personal = token(uid('tok'), a, { createdAt: at(40) });
        for (const t of [w, elsewhere, j, personal]) await store.tokens.putToken(t);
        await store.tokens.revokeToken(w.id, at(50));
        expect(await store.tokens.listTeamTokens(team)).toEqual([j, { ...w, revokedAt: at(50) }]);
        expect(await store.tokens.listTeamTokens(other)).toEqual([elsewhere]);
        expect(await store.tokens.listTeamTokens(uid('no-team'))).toEqual([]);
      });

      it('getToken by id returns the record (revokedAt once revoked); unknown ids give null', async () => {
        const u = uid('user');
        await store.accounts.putUser(user(u));
        const t = token(uid('tok'), u, { scopes: ['read', 'write'], expiresAt: at(3600) });
        await store.tokens.putToken(t);
        expect(await store.tokens.getToken(t.id)).toEqual(t);
        await store.tokens.revokeToken(t.id, at(7));
        await store.tokens.revokeToken(t.id, at(8));
        expect(await store.tokens.getToken(t.id)).toEqual({ ...t, revokedAt: at(7) });
        expect(await store.tokens.getToken(uid('unknown'))).toBeNull();
        expect(await store.tokens.getToken(t.hash)).toBeNull();
      });
    });
  });
}
