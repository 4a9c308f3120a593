import type { TestProject } from 'vitest/node';
import { type StorageEmulator, startStorageEmulator } from './storage-emulator.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    /** Storage emulator base URL (http://127.0.0.1:<port>), also exported as STORAGE_EMULATOR_HOST. */
    storageHost: string;
    /** How long the emulator took to answer its first request, in ms. */
    storageEmulatorStartMs: number;
  }
}

let emulator: StorageEmulator | undefined;

/** Vitest globalSetup: one storage emulator for the whole run. */
export async function setup(project: TestProject): Promise<void> {
  emulator = await startStorageEmulator();
  console.info(
    `[storage emulator] firebase-tools storage emulator ready on ${emulator.host} in ${emulator.startMs} ms`,
  );
  process.env.STORAGE_EMULATOR_HOST = emulator.host;
  project.provide('storageHost', emulator.host);
  project.provide('storageEmulatorStartMs', emulator.startMs);
}

export async function teardown(): Promise<void> {
  await emulator?.stop();
  emulator = undefined;
}
