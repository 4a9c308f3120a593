// The pieces of the API that sign-in relies on, on the local backend: the public GET /v1/auth/config and whoami
// for someone who is in no team yet (a fresh Google sign-in) or in several.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuthConfig } from '../../src/contract/auth-config.ts';
import type { WhoAmIResponse } from '../../src/contract/wire.ts';
import { expectError, type Harness, mintUserToken, route, startHarness, TEAM } from './helpers.ts';

let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

describe('GET /v1/auth/config', () => {
  it('needs no credential, ignores a bad one, and says the local backend has no browser sign-in', async () => {
    for (const opts of [{ token: null }, { authorization: 'Bearer junk' }, {}]) {
      const res = await h.call<AuthConfig>('GET', '/v1/auth/config', opts);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ firebase: null });
    }
    expectError(await h.call('POST', '/v1/auth/config', { token: null, body: {} }), 400, 'E_BAD_REQUEST');
  });
});

describe('whoami without a team', () => {
  it('someone in no team learns who they are (team null); asking for a team they are not in is still 403', async () => {
    const token = await mintUserToken(h, 'fresh-signin', {});
    const who = await h.call<WhoAmIResponse>('GET', route.whoami(), { token });
    expect(who.status).toBe(200);
    expect(who.body).toMatchObject({ team: null, principal: { userId: 'fresh-signin', teams: {} } });
    expectError(await h.call('GET', route.whoami(), { token, team: TEAM }), 403, 'E_FORBIDDEN');
    expectError(await h.call('GET', route.experiments(), { token }), 403, 'E_FORBIDDEN');
  });

  it('someone in several teams gets them all and team null, or the team they ask for', async () => {
    const token = await mintUserToken(h, 'two-hats', { [TEAM]: 'viewer', 'other-team': 'admin' });
    const who = await h.call<WhoAmIResponse>('GET', route.whoami(), { token });
    expect(who.status).toBe(200);
    expect(who.body.team).toBeNull();
    expect(who.body.principal.teams).toEqual({ [TEAM]: 'viewer', 'other-team': 'admin' });
    expect((await h.call<WhoAmIResponse>('GET', route.whoami(), { token, team: 'other-team' })).body.team).toBe(
      'other-team',
    );
  });
});
