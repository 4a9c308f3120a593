/** Personal access tokens: create (secret shown once), list (own only, never a hash), revoke (own only, idempotent). */
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type {
  CreateTokenResponse,
  ListTokensResponse,
  RevokeTokenResponse,
  WhoAmIResponse,
} from '../../src/contract/wire.ts';
import { hashToken, mintToken, TOKEN_RE } from '../../src/core/tokens.ts';
import { type CallOptions, expectError, type Harness, mintUserToken, route, startHarness, TEAM } from './helpers.ts';

const DAY = 24 * 3600;
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function create(body: unknown, opts: CallOptions = {}): Promise<CreateTokenResponse> {
  const res = await h.call<CreateTokenResponse>('POST', '/v1/tokens', { ...opts, body });
  expect(res.status, res.text).toBe(201);
  return res.body;
}

describe('POST /v1/tokens', () => {
  it('mints a personal token whose secret authenticates; only the hash is stored', async () => {
    const before = Date.now();
    const r = await create({ scopes: ['read', 'write'], expiresInSeconds: 3600 });
    expect(r.secret).toMatch(TOKEN_RE);
    expect(Object.keys(r.token).sort()).toEqual(
      ['binding', 'createdAt', 'expiresAt', 'id', 'kind', 'label', 'revokedAt', 'scopes', 'userId'].sort(),
    );
    expect(r.token).toMatchObject({ kind: 'personal', scopes: ['read', 'write'], revokedAt: null, userId: 'local' });
    const ttl = Date.parse(r.token.expiresAt as string) - Date.parse(r.token.createdAt);
    expect(ttl).toBe(3600_000);
    expect(Date.parse(r.token.createdAt)).toBeGreaterThanOrEqual(before - 1000);

    const who = await h.call<WhoAmIResponse>('GET', route.whoami(), { token: r.secret });
    expect(who.status, who.text).toBe(200);
    expect(who.body.principal).toMatchObject({ userId: 'local', tokenId: r.token.id, scopes: ['read', 'write'] });
    expect(who.body.team).toBe(TEAM);

    const stored = await h.meta.getToken(r.token.id);
    expect(stored?.hash).toBe(hashToken(r.secret));
    expect(JSON.stringify(stored)).not.toContain(r.secret);
  });

  it('defaults to scope * and 90 days', async () => {
    const r = await create({});
    expect(r.token.scopes).toEqual(['*']);
    expect(Date.parse(r.token.expiresAt as string) - Date.parse(r.token.createdAt)).toBe(90 * DAY * 1000);
  });

  it('accepts exactly one year, refuses more, zero, negative, fractions and non-numbers (E_BAD_REQUEST)', async () => {
    await create({ expiresInSeconds: 365 * DAY });
    for (const expiresInSeconds of [365 * DAY + 1, 0, -5, 1.5, '3600', null]) {
      expectError(await h.call('POST', '/v1/tokens', { body: { expiresInSeconds } }), 400, 'E_BAD_REQUEST');
    }
  });

  it('refuses unknown or empty scopes (E_BAD_REQUEST) and stores nothing', async () => {
    const count = (await h.meta.listTokens('local')).length;
    for (const scopes of [['admin'], ['read', 'queue:default'], [], [''], 'read', [1]]) {
      expectError(await h.call('POST', '/v1/tokens', { body: { scopes } }), 400, 'E_BAD_REQUEST');
    }
    expect((await h.meta.listTokens('local')).length).toBe(count);
  });

  it('refuses malformed JSON (E_BAD_JSON)', async () => {
    expectError(await h.call('POST', '/v1/tokens', { raw: '{"scopes":' }), 400, 'E_BAD_JSON');
  });

  it('job and worker tokens cannot mint, list or revoke (E_FORBIDDEN)', async () => {
    for (const kind of ['job', 'worker'] as const) {
      const { secret } = await mintToken(h.meta, {
        userId: 'local',
        kind,
        scopes: ['*'],
        expiresAt: null,
        now: new Date(),
        binding: kind === 'job' ? { team: 'local', experiment: 'some-exp', attempt: 1 } : { team: 'local', queue: 'q' },
      });
      // A job token without a live lease is refused before anything else (the matrix covers live ones).
      const [status, code] = kind === 'job' ? ([409, 'E_LEASE_LOST'] as const) : ([403, 'E_FORBIDDEN'] as const);
      expectError(await h.call('POST', '/v1/tokens', { token: secret, body: {} }), status, code);
      expectError(await h.call('GET', '/v1/tokens', { token: secret }), status, code);
      const mine = (await h.meta.listTokens('local'))[0]?.id as string;
      expectError(await h.call('DELETE', `/v1/tokens/${mine}`, { token: secret }), status, code);
    }
  });

  it('a user without any team can still manage their own tokens', async () => {
    const loner = await mintUserToken(h, 'loner', {});
    const r = await create({ scopes: ['read'] }, { token: loner });
    expect(r.token.userId).toBe('loner');
    const list = await h.call<ListTokensResponse>('GET', '/v1/tokens', { token: loner });
    expect(list.body.tokens.map((t) => t.id)).toContain(r.token.id);
  });
});

describe('GET /v1/tokens', () => {
  it('lists only the caller tokens, newest first, never a hash or secret', async () => {
    const a = await create({ scopes: ['read'] });
    const b = await create({ scopes: ['write'] });
    const res = await h.call<ListTokensResponse>('GET', '/v1/tokens');
    expect(res.status, res.text).toBe(200);
    const ids = res.body.tokens.map((t) => t.id);
    expect(ids).toContain(a.token.id);
    expect(ids).toContain(b.token.id);
    expect(res.body.tokens.find((t) => t.id === b.token.id)).toEqual(b.token);
    for (const t of res.body.tokens) {
      expect(t).not.toHaveProperty('hash');
      expect(t).not.toHaveProperty('secret');
      expect(t.userId).toBe('local');
    }
    expect(res.text).not.toContain(a.secret);
    expect(res.text).not.toContain(hashToken(a.secret));
    const created = res.body.tokens.map((t) => t.createdAt);
    expect(created).toEqual([...created].sort().reverse());

    const other = await mintUserToken(h, 'other-lister', { [TEAM]: 'admin' });
    const theirs = await h.call<ListTokensResponse>('GET', '/v1/tokens', { token: other });
    expect(theirs.status).toBe(200);
    expect(theirs.body.tokens.every((t) => t.userId === 'other-lister')).toBe(true);
    expect(theirs.body.tokens.map((t) => t.id)).not.toContain(a.token.id);
  });
});

describe('DELETE /v1/tokens/:id', () => {
  it('revokes: the secret then gets 401; the list shows revokedAt; revoking again is idempotent', async () => {
    const r = await create({ scopes: ['*'] });
    expect((await h.call('GET', route.whoami(), { token: r.secret })).status).toBe(200);
    const res = await h.call<RevokeTokenResponse>('DELETE', `/v1/tokens/${r.token.id}`);
    expect(res.status, res.text).toBe(200);
    expect(res.body.token.id).toBe(r.token.id);
    expect(res.body.token.revokedAt).toEqual(expect.any(String));
    expect(res.body.token).not.toHaveProperty('hash');
    expectError(await h.call('GET', route.whoami(), { token: r.secret }), 401, 'E_UNAUTHENTICATED');
    expectError(await h.call('GET', '/v1/tokens', { token: r.secret }), 401, 'E_UNAUTHENTICATED');

    const again = await h.call<RevokeTokenResponse>('DELETE', `/v1/tokens/${r.token.id}`);
    expect(again.status, again.text).toBe(200);
    expect(again.body.token.revokedAt).toBe(res.body.token.revokedAt);

    const list = await h.call<ListTokensResponse>('GET', '/v1/tokens');
    expect(list.body.tokens.find((t) => t.id === r.token.id)?.revokedAt).toBe(res.body.token.revokedAt);
  });

  it("another user's token id is E_NOT_FOUND (like an unknown id) and stays valid", async () => {
    const mine = await create({ scopes: ['read'] });
    const mallory = await mintUserToken(h, 'mallory-tokens', { [TEAM]: 'admin' });
    expectError(await h.call('DELETE', `/v1/tokens/${mine.token.id}`, { token: mallory }), 404, 'E_NOT_FOUND');
    expectError(await h.call('DELETE', '/v1/tokens/no-such-token', { token: mallory }), 404, 'E_NOT_FOUND');
    expect((await h.call('GET', route.whoami(), { token: mine.secret })).status).toBe(200);
    expect((await h.meta.getToken(mine.token.id))?.revokedAt).toBeNull();
  });

  it('an unknown id is E_NOT_FOUND', async () => {
    expectError(await h.call('DELETE', `/v1/tokens/${randomBytes(8).toString('hex')}`), 404, 'E_NOT_FOUND');
  });
});

describe('authentication on every token route', () => {
  const routes: [string, string, unknown?][] = [
    ['POST', '/v1/tokens', { scopes: ['read'] }],
    ['GET', '/v1/tokens'],
    ['DELETE', '/v1/tokens/some-id'],
  ];
  it.each(routes)(
    '%s %s: missing, malformed, unknown, revoked -> E_UNAUTHENTICATED; expired -> E_TOKEN_EXPIRED',
    async (method, path, body) => {
      const expired = await mintUserToken(
        h,
        'expired-tokens',
        { [TEAM]: 'admin' },
        { expiresAt: new Date(Date.now() - 1000) },
      );
      const revoked = await mintUserToken(h, 'revoked-tokens', { [TEAM]: 'admin' }, { revoked: true });
      const cases: [CallOptions, string][] = [
        [{ token: null }, 'E_UNAUTHENTICATED'],
        [{ authorization: 'Bearer not-a-token' }, 'E_UNAUTHENTICATED'],
        [{ authorization: 'Basic dXNlcjpwYXNz' }, 'E_UNAUTHENTICATED'],
        [{ token: `slt_${randomBytes(32).toString('base64url')}` }, 'E_UNAUTHENTICATED'],
        [{ token: revoked }, 'E_UNAUTHENTICATED'],
        [{ token: expired }, 'E_TOKEN_EXPIRED'],
      ];
      for (const [opts, code] of cases) {
        const res = await h.call(method, path, { ...opts, body });
        expectError(res, 401, code as 'E_UNAUTHENTICATED' | 'E_TOKEN_EXPIRED');
      }
    },
  );
});
