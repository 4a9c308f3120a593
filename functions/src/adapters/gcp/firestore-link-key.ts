import { randomBytes } from 'node:crypto';
import type { Firestore } from '@google-cloud/firestore';

/**
 * The deployment's key for short-lived download links, kept in Firestore (no client may read it: firestore.rules
 * deny everything outside the paths they list). The first instance that needs it creates it with `create()`, so
 * racing cold starts agree on one key; no terraform variable or secret to provision.
 */
export async function loadFirestoreLinkKey(firestore: Firestore): Promise<Uint8Array> {
  const ref = firestore.collection('config').doc('link-key');
  const snap = await ref.get();
  if (snap.exists) return Buffer.from(String(snap.get('key')), 'base64');
  try {
    await ref.create({ key: randomBytes(32).toString('base64') });
  } catch (err) {
    // ALREADY_EXISTS: another instance won the race; its key is read below.
    if ((err as { code?: number }).code !== 6) throw err;
  }
  return Buffer.from(String((await ref.get()).get('key')), 'base64');
}
