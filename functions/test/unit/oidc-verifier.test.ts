import { UnsecuredJWT } from 'jose';
import { beforeAll, describe, expect, it } from 'vitest';
import { createGoogleJwtVerifier, type GoogleJwtVerifierOptions } from '../../src/adapters/gcp/oidc-verifier.ts';
import { expectCode } from '../conformance/fixtures.ts';
import { serveWeb } from '../support/serve-web.ts';
import { createTestOidcIssuer, type TestOidcIssuer } from '../support/test-oidc.ts';

// The one JWKS verifier both GCP identity paths use (internal-auth.ts for Cloud Tasks, firebase-identity.ts for
// people); their own tests cover their claims, this one the shared checks and error mapping.
const AUD = 'https://api.studio.test';
const messageOf = async (...a: Parameters<typeof expectCode>) => (await expectCode(...a)).message;
const base = {
  jwksUrl: 'http://127.0.0.1:1/unused',
  issuer: ['https://accounts.google.com'],
  audience: AUD,
  requiredClaims: ['exp', 'iat', 'sub'],
} satisfies GoogleJwtVerifierOptions;

describe('shared Google JWT verifier (adapters/gcp/oidc-verifier.ts)', () => {
  let issuer: TestOidcIssuer;
  beforeAll(async () => {
    issuer = await createTestOidcIssuer();
  });

  it('returns the payload of a valid token and refuses wrong audience, issuer, keys, algorithm and age', async () => {
    const v = createGoogleJwtVerifier({ ...base, publicKeys: issuer.jwks });
    expect(await v.verify(await issuer.sign('a@b.c', AUD))).toMatchObject({ aud: AUD, email: 'a@b.c' });
    await expectCode(v.verify(await issuer.sign('a@b.c', 'https://other.test')), 'E_UNAUTHENTICATED');
    await expectCode(v.verify(await issuer.sign('a@b.c', AUD, { claims: { iss: 'evil' } })), 'E_UNAUTHENTICATED');
    await expectCode(v.verify(await issuer.sign('a@b.c', AUD, { signWith: 'stranger' })), 'E_UNAUTHENTICATED');
    await expectCode(v.verify(await issuer.sign('a@b.c', AUD, { alg: 'HS256' })), 'E_UNAUTHENTICATED');
    await expectCode(v.verify(await issuer.sign('a@b.c', AUD, { claims: { sub: undefined } })), 'E_UNAUTHENTICATED');
    await expectCode(v.verify('not.a.jwt'), 'E_UNAUTHENTICATED');
    const old = new Date(Date.now() - 2 * 3600_000);
    expect(await messageOf(v.verify(await issuer.sign('a@b.c', AUD, { now: old })), 'E_TOKEN_EXPIRED')).toMatch(
      /^token has expired/,
    );
  });

  it('unsigned tokens only when allowed (the Firebase Auth emulator), after the same claim checks', async () => {
    const iat = Math.floor(Date.now() / 1000);
    const unsigned = (aud: string) =>
      new UnsecuredJWT({ iss: 'https://accounts.google.com', aud, sub: 'u1', iat, exp: iat + 3600 }).encode();
    const strict = createGoogleJwtVerifier({ ...base, publicKeys: issuer.jwks, label: 'Firebase ID token' });
    expect(await messageOf(strict.verify(unsigned(AUD)), 'E_UNAUTHENTICATED')).toMatch(
      /invalid Firebase ID token: unsigned/,
    );
    const emulator = createGoogleJwtVerifier({ ...base, publicKeys: issuer.jwks, allowUnsigned: true });
    expect(await emulator.verify(unsigned(AUD))).toMatchObject({ sub: 'u1' });
    await expectCode(emulator.verify(unsigned('https://other.test')), 'E_UNAUTHENTICATED');
  });

  it('fetches the JWKS remotely; an unreachable or broken key source is E_UNAVAILABLE, not a bad token', async () => {
    let broken = false;
    const jwks = await serveWeb(async () =>
      broken ? new Response('oops', { status: 500 }) : Response.json(issuer.jwks),
    );
    try {
      const remote = createGoogleJwtVerifier({ ...base, jwksUrl: `${jwks.url}/certs`, label: 'Firebase ID token' });
      expect(await remote.verify(await issuer.sign('a@b.c', AUD))).toMatchObject({ email: 'a@b.c' });
      broken = true;
      const fresh = createGoogleJwtVerifier({ ...base, jwksUrl: `${jwks.url}/certs` });
      expect(await messageOf(fresh.verify(await issuer.sign('a@b.c', AUD)), 'E_UNAVAILABLE')).toMatch(
        /cannot fetch token signing keys/,
      );
    } finally {
      await jwks.close();
    }
    const closed = createGoogleJwtVerifier({ ...base, jwksUrl: jwks.url, label: 'Firebase ID token' });
    expect(await messageOf(closed.verify(await issuer.sign('a@b.c', AUD)), 'E_UNAVAILABLE')).toMatch(
      /cannot fetch Firebase ID token signing keys/,
    );
  });
});
