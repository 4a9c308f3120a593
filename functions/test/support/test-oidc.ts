import { randomBytes } from 'node:crypto';
import { exportJWK, generateKeyPair, type JSONWebKeySet, type JWTPayload, SignJWT } from 'jose';

/** A stand-in for Google's token service: an RS256 key pair, its JWKS, and ID tokens shaped like Google's. */
export interface TestOidcIssuer {
  jwks: JSONWebKeySet;
  kid: string;
  /**
   * An ID token for `email` and `aud`, valid for an hour from `now`. `claims` override or (as undefined) remove the
   * defaults; `signWith: 'stranger'` signs with a key the JWKS does not contain, under the same kid; `alg: 'HS256'` signs
   * with the public JWK as an HMAC secret.
   */
  sign(
    email: string,
    aud: string,
    opts?: { claims?: Record<string, unknown>; now?: Date; signWith?: 'stranger'; alg?: 'RS256' | 'HS256' },
  ): Promise<string>;
}

// RSA key generation takes a while; one pair of keys per test process is enough.
let keys: Promise<[CryptoKeyPair, CryptoKeyPair]> | undefined;

export async function createTestOidcIssuer(): Promise<TestOidcIssuer> {
  const kid = randomBytes(8).toString('hex');
  keys ??= Promise.all([
    generateKeyPair('RS256', { extractable: true }),
    generateKeyPair('RS256', { extractable: true }),
  ]);
  const [own, stranger] = await keys;
  const jwk = { ...(await exportJWK(own.publicKey)), kid, alg: 'RS256', use: 'sig' };
  return {
    jwks: { keys: [jwk] },
    kid,
    async sign(email, aud, opts = {}) {
      const iat = Math.floor((opts.now ?? new Date()).getTime() / 1000);
      const sub = `1${BigInt(`0x${randomBytes(8).toString('hex')}`)
        .toString()
        .padStart(20, '0')}`;
      const payload: JWTPayload = {
        iss: 'https://accounts.google.com',
        aud,
        azp: sub,
        sub,
        email,
        email_verified: true,
        iat,
        exp: iat + 3600,
        ...opts.claims,
      };
      for (const [k, v] of Object.entries(payload)) if (v === undefined) delete payload[k];
      const key = opts.signWith === 'stranger' ? stranger.privateKey : own.privateKey;
      const jwt = new SignJWT(payload).setProtectedHeader({ alg: opts.alg ?? 'RS256', kid, typ: 'JWT' });
      // HS256 with a guessable secret: the classic algorithm-confusion forgery a verifier must refuse.
      return jwt.sign(opts.alg === 'HS256' ? new TextEncoder().encode(JSON.stringify(jwk)) : key);
    },
  };
}
