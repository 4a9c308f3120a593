// Firebase ID tokens against the real Auth emulator: the identity the Cloud Function uses for people who signed in
// with `studio-lite login`, its routing next to slt_ tokens, and the production (RS256) path with local keys.
import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JWTPayload, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createCompositeIdentity } from '../../src/adapters/gcp/composite-identity.ts';
import { createFirebaseIdentity } from '../../src/adapters/gcp/firebase-identity.ts';
import { createFirestoreMetadataStore } from '../../src/adapters/gcp/firestore-metadata-store.ts';
import { openGcpBackend } from '../../src/adapters/gcp/gcp-backend.ts';
import { createTokenIdentity } from '../../src/adapters/local/token-identity.ts';
import { createApiHandler } from '../../src/api/handler.ts';
import { readGcpConfig } from '../../src/config/gcp-config.ts';
import { type ErrorCode, isStudioError } from '../../src/contract/errors.ts';
import type { Identity } from '../../src/core/ports.ts';
import { mintToken } from '../../src/core/tokens.ts';
import { decodeClaims, firebaseIdToken, passwordIdToken, withClaims } from '../support/firebase-tokens.ts';
import { serveWeb } from '../support/serve-web.ts';

const authHost = inject('authEmulatorHost');
const project = inject('authEmulatorProject');
process.env.FIRESTORE_EMULATOR_HOST = inject('firestoreHost');

const run = randomBytes(4).toString('hex');
const email = (name: string) => `${name}-${run}@example.com`;
const meta = createFirestoreMetadataStore({ projectId: `demo-fbid-${run}` });
const now = () => Math.floor(Date.now() / 1000);
let identity: Identity;

async function expectCode(p: Promise<unknown>, code: ErrorCode): Promise<string> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(isStudioError(err), String(err)).toBe(true);
  expect((err as { code: string }).code).toBe(code);
  return (err as Error).message;
}

beforeAll(() => {
  identity = createCompositeIdentity({
    tokens: createTokenIdentity(meta),
    firebase: createFirebaseIdentity({ projectId: project, meta, emulator: true }),
  });
});
afterAll(async () => {
  await meta.close();
});

describe('Firebase ID tokens from the Auth emulator', () => {
  it('a Google sign-in becomes a principal; the user is stored with a lower-cased email; roles are memberships', async () => {
    const addr = email('Alice').replace('Alice', 'ALICE');
    const s = await firebaseIdToken(authHost, addr, { name: 'Alice A.' });
    expect(decodeClaims(s.idToken).aud).toBe(project);
    const p = await identity.authenticate(s.idToken);
    const claims = decodeClaims(s.idToken);
    expect(p).toEqual({
      userId: s.uid,
      tokenId: `firebase:${claims.iat}`,
      kind: 'firebase',
      scopes: ['*'],
      teams: {},
      binding: null,
      expiresAt: new Date((claims.exp as number) * 1000).toISOString(),
    });
    const user = await meta.getUser(s.uid);
    expect(user).toMatchObject({ id: s.uid, name: 'Alice A.', email: addr.toLowerCase() });
    await meta.setMembership('team-a', s.uid, 'editor');
    expect((await identity.authenticate(s.idToken)).teams).toEqual({ 'team-a': 'editor' });
  });

  it('a second sign-in keeps the user (same uid, createdAt) and takes a changed name', async () => {
    const addr = email('bob');
    const first = await firebaseIdToken(authHost, addr, { name: 'Bob' });
    await identity.authenticate(first.idToken);
    const created = (await meta.getUser(first.uid))?.createdAt;
    await new Promise((r) => setTimeout(r, 20));
    const again = await firebaseIdToken(authHost, addr);
    expect(again.uid).toBe(first.uid);
    // The emulator keeps the first display name; a real account's name can change (token claims carry it).
    await identity.authenticate(withClaims(again.idToken, { name: 'Robert' }));
    expect(await meta.getUser(first.uid)).toMatchObject({ name: 'Robert', createdAt: created, email: addr });
  });

  it('expired -> E_TOKEN_EXPIRED; wrong audience, wrong issuer, missing claims, future iat -> E_UNAUTHENTICATED', async () => {
    const { idToken } = await firebaseIdToken(authHost, email('carol'));
    const past = now() - 7200;
    await expectCode(
      identity.authenticate(withClaims(idToken, { iat: past, auth_time: past, exp: past + 3600 })),
      'E_TOKEN_EXPIRED',
    );
    // Issued over an hour ago but claiming to be valid still: a forged lifetime, treated as expired.
    await expectCode(
      identity.authenticate(withClaims(idToken, { iat: now() - 4000, exp: now() + 3600 })),
      'E_TOKEN_EXPIRED',
    );
    const bad: Record<string, Record<string, unknown>> = {
      audience: { aud: 'demo-another-project' },
      issuer: { iss: 'https://securetoken.google.com/demo-another-project' },
      'issuer of Google OAuth': { iss: 'https://accounts.google.com' },
      'no sub': { sub: undefined },
      'empty sub': { sub: '' },
      'sub with a slash': { sub: 'a/b' },
      'no auth_time': { auth_time: undefined },
      'auth_time in the future': { auth_time: now() + 3600 },
      'iat in the future': { iat: now() + 600, exp: now() + 4200 },
      'no email': { email: undefined },
      'unverified email': { email_verified: false },
    };
    for (const [what, patch] of Object.entries(bad)) {
      const msg = await expectCode(identity.authenticate(withClaims(idToken, patch)), 'E_UNAUTHENTICATED').catch(
        (e: unknown) => {
          throw new Error(`${what}: ${e}`);
        },
      );
      expect(msg, what).toMatch(/Firebase ID token/);
    }
  });

  it('the helper re-addresses a token to another project (for an API keeping its data in a per-run project)', async () => {
    const other = createFirebaseIdentity({ projectId: `demo-other-${run}`, meta, emulator: true });
    const s = await firebaseIdToken(authHost, email('mover'), { projectId: `demo-other-${run}` });
    expect((await other.authenticate(s.idToken)).userId).toBe(s.uid);
    await expectCode(identity.authenticate(s.idToken), 'E_UNAUTHENTICATED');
  });

  it('an email/password account whose email is not verified is refused', async () => {
    const s = await passwordIdToken(authHost, email('dave'));
    expect(decodeClaims(s.idToken).email_verified).toBe(false);
    expect(await expectCode(identity.authenticate(s.idToken), 'E_UNAUTHENTICATED')).toMatch(/not verified/);
    expect(await meta.getUser(s.uid)).toBeNull();
  });

  it('random strings, other schemes and a token with a signature part routed wrongly are refused', async () => {
    for (const bearer of [
      undefined,
      '',
      'hello',
      'a.b.c',
      'a.b',
      `${'x'.repeat(20)}.${'y'.repeat(20)}.`,
      'slt_short',
    ]) {
      await expectCode(identity.authenticate(bearer), 'E_UNAUTHENTICATED');
    }
  });

  it('slt_ tokens still go to the token identity', async () => {
    await meta.putUser({ id: `pat-${run}`, name: 'pat', createdAt: new Date().toISOString() });
    await meta.setMembership('team-a', `pat-${run}`, 'viewer');
    const { secret, record } = await mintToken(meta, {
      userId: `pat-${run}`,
      kind: 'personal',
      scopes: ['read'],
      expiresAt: null,
      now: new Date(),
    });
    const p = await identity.authenticate(secret);
    expect(p).toMatchObject({
      userId: `pat-${run}`,
      kind: 'personal',
      tokenId: record.id,
      teams: { 'team-a': 'viewer' },
    });
  });

  it("two accounts with one email: the second gets a clear refusal, not the first one's data", async () => {
    const addr = email('twin');
    const first = await firebaseIdToken(authHost, addr);
    await identity.authenticate(first.idToken);
    // Another Firebase account (e.g. recreated after deletion) claiming the same address.
    const other = withClaims(first.idToken, { sub: `other-${run}`, user_id: `other-${run}` });
    expect(await expectCode(identity.authenticate(other), 'E_UNAUTHENTICATED')).toMatch(/already belongs/);
    expect(await meta.getUser(`other-${run}`)).toBeNull();
  });
});

describe('production mode: RS256 tokens only', () => {
  let keys: CryptoKeyPair;
  let stranger: CryptoKeyPair;
  let jwks: { keys: Record<string, unknown>[] };
  const kid = 'k1';
  let prod: Identity;

  const sign = async (claims: JWTPayload, opts: { key?: CryptoKey; alg?: string } = {}) => {
    const t = now();
    return new SignJWT({
      iss: `https://securetoken.google.com/${project}`,
      aud: project,
      sub: `prod-${run}`,
      auth_time: t - 10,
      iat: t - 10,
      exp: t + 3590,
      email: email('prod'),
      email_verified: true,
      firebase: { sign_in_provider: 'google.com' },
      ...claims,
    })
      .setProtectedHeader({ alg: opts.alg ?? 'RS256', kid })
      .sign(opts.key ?? keys.privateKey);
  };

  beforeAll(async () => {
    keys = await generateKeyPair('RS256', { extractable: true });
    stranger = await generateKeyPair('RS256', { extractable: true });
    jwks = { keys: [{ ...(await exportJWK(keys.publicKey)), kid, alg: 'RS256', use: 'sig' }] };
    prod = createFirebaseIdentity({ projectId: project, meta, publicKeys: jwks as never });
  });

  it('accepts a correctly signed token', async () => {
    expect((await prod.authenticate(await sign({}))).userId).toBe(`prod-${run}`);
  });

  it('refuses emulator (unsigned) tokens, tampered payloads, foreign keys and HS256 forgeries', async () => {
    const { idToken } = await firebaseIdToken(authHost, email('emu'));
    expect(await expectCode(prod.authenticate(idToken), 'E_UNAUTHENTICATED')).toMatch(/unsigned/);
    const good = await sign({});
    const [h, , s] = good.split('.');
    const evil = Buffer.from(JSON.stringify({ ...decodeClaims(good), sub: 'someone-else' })).toString('base64url');
    await expectCode(prod.authenticate(`${h}.${evil}.${s}`), 'E_UNAUTHENTICATED');
    await expectCode(prod.authenticate(await sign({}, { key: stranger.privateKey })), 'E_UNAUTHENTICATED');
    const secret = new TextEncoder().encode(JSON.stringify(jwks.keys[0]));
    const hs = await new SignJWT({ ...decodeClaims(good) }).setProtectedHeader({ alg: 'HS256', kid }).sign(secret);
    await expectCode(prod.authenticate(hs), 'E_UNAUTHENTICATED');
    await expectCode(prod.authenticate(await sign({ aud: 'demo-other' })), 'E_UNAUTHENTICATED');
    const past = now() - 7200;
    await expectCode(
      prod.authenticate(await sign({ iat: past, auth_time: past, exp: past + 3600 })),
      'E_TOKEN_EXPIRED',
    );
  });

  it('fetches the keys from a JWKS URL; an unreachable key source is E_UNAVAILABLE, not a bad token', async () => {
    const server = await serveWeb(async () => Response.json(jwks));
    try {
      const remote = createFirebaseIdentity({ projectId: project, meta, jwksUrl: `${server.url}/jwks` });
      expect((await remote.authenticate(await sign({}))).userId).toBe(`prod-${run}`);
    } finally {
      await server.close();
    }
    const down = createFirebaseIdentity({ projectId: project, meta, jwksUrl: 'http://127.0.0.1:1/jwks' });
    await expectCode(down.authenticate(await sign({})), 'E_UNAVAILABLE');
  });

  it('never trusts the emulator with NODE_ENV=production', () => {
    const saved = process.env.NODE_ENV;
    process.env.NODE_ENV = 'production';
    try {
      expect(() => createFirebaseIdentity({ projectId: project, meta, emulator: true })).toThrow(/production/);
      expect(() =>
        readGcpConfig({
          GOOGLE_CLOUD_PROJECT: project,
          STUDIO_BUCKET: 'bkt',
          FIREBASE_AUTH_EMULATOR_HOST: authHost,
          NODE_ENV: 'production',
        }),
      ).toThrow(/FIREBASE_AUTH_EMULATOR_HOST/);
    } finally {
      process.env.NODE_ENV = saved;
    }
  });
});

describe('the GCP backend wiring (openGcpBackend + the API handler)', () => {
  const env = {
    GOOGLE_CLOUD_PROJECT: project,
    STUDIO_BUCKET: `bkt-fbid-${run}`,
    FIREBASE_AUTH_EMULATOR_HOST: authHost,
  };

  it('GET /v1/auth/config: null without the sign-in keys; the emulator URLs with them; no credential needed', async () => {
    const bare = createApiHandler(openGcpBackend(readGcpConfig(env)));
    const r0 = await bare(new Request('http://fn/v1/auth/config'));
    expect(r0.status).toBe(200);
    expect(await r0.json()).toEqual({ firebase: null });

    const configured = createApiHandler(
      openGcpBackend(
        readGcpConfig({
          ...env,
          STUDIO_FIREBASE_API_KEY: 'fake-api-key',
          STUDIO_GOOGLE_OAUTH_CLIENT_ID: 'client-1.apps.googleusercontent.com',
          STUDIO_GOOGLE_OAUTH_CLIENT_SECRET: 'not-confidential',
        }),
      ),
    );
    const r1 = await configured(new Request('http://fn/v1/auth/config', { headers: { authorization: 'Bearer junk' } }));
    expect(await r1.json()).toEqual({
      firebase: {
        apiKey: 'fake-api-key',
        projectId: project,
        googleClientId: 'client-1.apps.googleusercontent.com',
        googleClientSecret: 'not-confidential',
        authorizeUrl: 'https://accounts.google.com/o/oauth2/v2/auth',
        tokenUrl: 'https://oauth2.googleapis.com/token',
        identityToolkitUrl: `http://${authHost}/identitytoolkit.googleapis.com/v1`,
        secureTokenUrl: `http://${authHost}/securetoken.googleapis.com/v1`,
      },
    });
  });

  it('whoami with a Firebase token: a new user with no team gets team null; a member gets their team', async () => {
    const deps = openGcpBackend(readGcpConfig(env));
    const api = createApiHandler(deps);
    const s = await firebaseIdToken(authHost, email('newbie'));
    const who = async () => {
      const res = await api(new Request('http://fn/v1/whoami', { headers: { authorization: `Bearer ${s.idToken}` } }));
      return { status: res.status, body: (await res.json()) as { team: string | null; principal: { userId: string } } };
    };
    expect(await who()).toMatchObject({ status: 200, body: { team: null, principal: { userId: s.uid } } });
    const list = await api(
      new Request('http://fn/v1/experiments', { headers: { authorization: `Bearer ${s.idToken}` } }),
    );
    expect(list.status).toBe(403);
    await deps.meta.setMembership('ml', s.uid, 'viewer');
    expect(await who()).toMatchObject({ status: 200, body: { team: 'ml' } });
  });
});
