import { generateKeyPairSync, randomBytes } from 'node:crypto';

export interface TestServiceAccount {
  client_email: string;
  private_key: string;
  publicKeyPem: string;
}

/** A throwaway RSA service-account key, generated locally: signing never needs the network or a real account. */
export function makeServiceAccount(name = `signer-${randomBytes(3).toString('hex')}`): TestServiceAccount {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return {
    client_email: `${name}@demo-studio-lite.iam.gserviceaccount.com`,
    private_key: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
  };
}
