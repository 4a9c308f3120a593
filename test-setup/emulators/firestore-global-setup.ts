import type { TestProject } from 'vitest/node';
import { type FirestoreEmulator, startFirestoreEmulator } from './firestore-emulator.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `127.0.0.1:<port>` of the Firestore emulator started by firestore-global-setup.ts. */
    firestoreHost: string;
  }
}

let emulator: FirestoreEmulator | undefined;

/** Vitest globalSetup: one Firestore emulator for the whole run; tests read its host with inject('firestoreHost'). */
export async function setup(project: TestProject): Promise<void> {
  emulator = await startFirestoreEmulator();
  project.provide('firestoreHost', emulator.host);
  // Workers forked after this point inherit it, so a client built without an explicit host still hits the emulator.
  process.env.FIRESTORE_EMULATOR_HOST = emulator.host;
}

export async function teardown(): Promise<void> {
  await emulator?.stop();
  emulator = undefined;
}
