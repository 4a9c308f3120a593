import { beforeAll, describe, expect, it } from 'vitest';
import { createOidcVerifier, type OidcVerifier } from '../../src/adapters/gcp/internal-auth.ts';
import { expectCode } from '../conformance/fixtures.ts';
import { serveWeb } from '../support/serve-web.ts';
import { createTestOidcIssuer, type TestOidcIssuer } from '../support/test-oidc.ts';

const SA = 'tasks@demo-studio-lite.iam.gserviceaccount.com';
const AUD = 'https://api.studio.test';

describe('OIDC verifier for internal routes', () => {
  let issuer: TestOidcIssuer;
  let verifier: OidcVerifier;
  const bearer = async (...args: Parameters<TestOidcIssuer['sign']>) => `Bearer ${await issuer.sign(...args)}`;

  beforeAll(async () => {
    issuer = await createTestOidcIssuer();
    verifier = createOidcVerifier({ publicKeys: issuer.jwks, audience: AUD, allowedEmail: SA });
  });

  it('accepts a valid token from the task service account', async () => {
    const claims = await verifier.verify(await bearer(SA, AUD));
    expect(claims).toMatchObject({ email: SA, iss: 'https://accounts.google.com' });
    await expect(
      verifier.verify(await bearer(SA, AUD, { claims: { iss: 'accounts.google.com' } })),
    ).resolves.toMatchObject({
      email: SA,
    });
    // Email comparison ignores case; a token just past exp is still inside the allowed skew.
    await verifier.verify(await bearer(SA.toUpperCase(), AUD));
    await verifier.verify(await bearer(SA, AUD, { now: new Date(Date.now() - 3600_000 - 10_000) }));
  });

  it('refuses a missing or malformed Authorization header', async () => {
    await expectCode(verifier.verify(null), 'E_UNAUTHENTICATED');
    await expectCode(verifier.verify(''), 'E_UNAUTHENTICATED');
    await expectCode(verifier.verify('Basic dXNlcjpwYXNz'), 'E_UNAUTHENTICATED');
    await expectCode(verifier.verify('Bearer not-a-jwt'), 'E_UNAUTHENTICATED');
    await expectCode(verifier.verify((await bearer(SA, AUD)).slice(7)), 'E_UNAUTHENTICATED');
  });

  it('refuses a wrong audience or issuer', async () => {
    await expectCode(verifier.verify(await bearer(SA, 'https://other.test')), 'E_UNAUTHENTICATED');
    await expectCode(verifier.verify(await bearer(SA, `${AUD}/internal/tasks/verify-blob`)), 'E_UNAUTHENTICATED');
    await expectCode(
      verifier.verify(await bearer(SA, AUD, { claims: { iss: 'https://evil.test' } })),
      'E_UNAUTHENTICATED',
    );
    await expectCode(verifier.verify(await bearer(SA, AUD, { claims: { iss: undefined } })), 'E_UNAUTHENTICATED');
  });

  it('refuses another account or an unverified email with E_FORBIDDEN', async () => {
    await expectCode(verifier.verify(await bearer('someone@gmail.com', AUD)), 'E_FORBIDDEN');
    await expectCode(verifier.verify(await bearer(`x${SA}`, AUD)), 'E_FORBIDDEN');
    await expectCode(verifier.verify(await bearer(SA, AUD, { claims: { email_verified: false } })), 'E_FORBIDDEN');
    await expectCode(verifier.verify(await bearer(SA, AUD, { claims: { email_verified: 'true' } })), 'E_FORBIDDEN');
    await expectCode(verifier.verify(await bearer(SA, AUD, { claims: { email_verified: undefined } })), 'E_FORBIDDEN');
    await expectCode(verifier.verify(await bearer(SA, AUD, { claims: { email: undefined } })), 'E_UNAUTHENTICATED');
  });

  it('refuses expired, future-dated and over-long tokens', async () => {
    await expectCode(
      verifier.verify(await bearer(SA, AUD, { now: new Date(Date.now() - 2 * 3600_000) })),
      'E_TOKEN_EXPIRED',
    );
    await expectCode(
      verifier.verify(await bearer(SA, AUD, { now: new Date(Date.now() + 600_000) })),
      'E_UNAUTHENTICATED',
    );
    const iat = Math.floor(Date.now() / 1000) - 7200;
    await expectCode(verifier.verify(await bearer(SA, AUD, { claims: { iat, exp: iat + 86400 } })), 'E_TOKEN_EXPIRED');
    await expectCode(verifier.verify(await bearer(SA, AUD, { claims: { exp: undefined } })), 'E_UNAUTHENTICATED');
  });

  it('judges time by the injected clock', async () => {
    const at = new Date('2031-05-01T12:00:00Z');
    const v = createOidcVerifier({ publicKeys: issuer.jwks, audience: AUD, allowedEmail: SA, now: () => at });
    await v.verify(await bearer(SA, AUD, { now: new Date(at.getTime() - 60_000) }));
    await expectCode(v.verify(await bearer(SA, AUD, { now: new Date(at.getTime() + 600_000) })), 'E_UNAUTHENTICATED');
    await expectCode(v.verify(await bearer(SA, AUD)), 'E_TOKEN_EXPIRED'); // issued years before the injected now
  });

  it('refuses a bad signature, a tampered payload, an unknown key or another algorithm', async () => {
    await expectCode(verifier.verify(await bearer(SA, AUD, { signWith: 'stranger' })), 'E_UNAUTHENTICATED');
    const [h, , sig] = (await issuer.sign(SA, AUD)).split('.');
    const forged = Buffer.from(JSON.stringify({ iss: 'https://accounts.google.com', aud: AUD, email: SA })).toString(
      'base64url',
    );
    await expectCode(verifier.verify(`Bearer ${h}.${forged}.${sig}`), 'E_UNAUTHENTICATED');
    const other = await createTestOidcIssuer(); // same keys, different kid
    await expectCode(verifier.verify(`Bearer ${await other.sign(SA, AUD)}`), 'E_UNAUTHENTICATED');
    await expectCode(verifier.verify(await bearer(SA, AUD, { alg: 'HS256' })), 'E_UNAUTHENTICATED');
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    await expectCode(verifier.verify(`Bearer ${none}.${forged}.`), 'E_UNAUTHENTICATED');
  });

  it('fetches keys from a JWKS URL, and reports an unreachable one as E_UNAVAILABLE', async () => {
    let up = true;
    const jwks = await serveWeb(async () => (up ? Response.json(issuer.jwks) : new Response('down', { status: 503 })));
    try {
      const remote = createOidcVerifier({ jwksUrl: `${jwks.url}/certs`, audience: AUD, allowedEmail: [SA] });
      await remote.verify(await bearer(SA, AUD));
      await expectCode(remote.verify(await bearer(SA, AUD, { signWith: 'stranger' })), 'E_UNAUTHENTICATED');
      up = false;
      const fresh = createOidcVerifier({ jwksUrl: `${jwks.url}/certs`, audience: AUD, allowedEmail: SA });
      await expectCode(fresh.verify(await bearer(SA, AUD)), 'E_UNAVAILABLE');
    } finally {
      await jwks.close();
    }
    const closed = createOidcVerifier({ jwksUrl: jwks.url, audience: AUD, allowedEmail: SA });
    await expectCode(closed.verify(await bearer(SA, AUD)), 'E_UNAVAILABLE');
  });

  it('requires an audience and an allowed email', () => {
    expect(() => createOidcVerifier({ publicKeys: issuer.jwks, audience: '', allowedEmail: SA })).toThrow(/audience/);
    expect(() => createOidcVerifier({ publicKeys: issuer.jwks, audience: AUD, allowedEmail: [] })).toThrow(
      /allowedEmail/,
    );
  });
});
