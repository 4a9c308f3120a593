import type { TestProject } from 'vitest/node';
import { type AuthEmulator, startAuthEmulator } from './auth-emulator.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** `127.0.0.1:<port>` of the Auth emulator started by auth-global-setup.ts (also FIREBASE_AUTH_EMULATOR_HOST). */
    authEmulatorHost: string;
    /** The project the Auth emulator issues tokens for (their `aud`). */
    authEmulatorProject: string;
  }
}

let emulator: AuthEmulator | undefined;

/** Vitest globalSetup: one Firebase Auth emulator for the whole run (10–20 s to start). */
export async function setup(project: TestProject): Promise<void> {
  emulator = await startAuthEmulator();
  console.info(`[auth emulator] ready on ${emulator.host} (project ${emulator.projectId}) in ${emulator.startMs} ms`);
  process.env.FIREBASE_AUTH_EMULATOR_HOST = emulator.host;
  project.provide('authEmulatorHost', emulator.host);
  project.provide('authEmulatorProject', emulator.projectId);
}

export async function teardown(): Promise<void> {
  await emulator?.stop();
  emulator = undefined;
}
