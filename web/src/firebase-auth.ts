import { initializeApp } from 'firebase/app';
import {
  connectAuthEmulator,
  GoogleAuthProvider,
  getAuth,
  onAuthStateChanged,
  signInWithPopup,
  signOut,
  type User,
} from 'firebase/auth';
import type { FirebaseClientConfig } from './auth.ts';

/**
 * Google sign-in through Identity Platform (loaded only on a deployment, as its own chunk). The ID token goes to
 * the API as bearer; the SDK refreshes it before it expires.
 */
export async function startFirebase(cfg: FirebaseClientConfig) {
  const app = initializeApp({
    apiKey: cfg.apiKey,
    projectId: cfg.projectId,
    authDomain: `${cfg.projectId}.firebaseapp.com`,
  });
  const auth = getAuth(app);
  const emulator = /^http:\/\/([^/]+)\/identitytoolkit/.exec(cfg.identityToolkitUrl);
  if (emulator) connectAuthEmulator(auth, `http://${emulator[1]}`, { disableWarnings: true });
  await auth.authStateReady();
  return {
    user: (): User | null => auth.currentUser,
    token: async () => (auth.currentUser ? auth.currentUser.getIdToken() : null),
    signIn: async () => {
      await signInWithPopup(auth, new GoogleAuthProvider());
    },
    signOut: () => signOut(auth),
    onChange: (fn: () => void) => onAuthStateChanged(auth, fn),
  };
}
