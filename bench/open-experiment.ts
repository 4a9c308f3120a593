import { isStudioError } from '@studio-lite/functions/contract';
import type { ApiClient } from '../cli/src/api-client.ts';

/**
 * Registers `key`, or continues it when an earlier step of the same bench registered it on this home (`resume`
 * refuses a key that does not exist, so it cannot be the first call).
 */
export async function openExperiment(client: ApiClient, key: string): Promise<void> {
  try {
    await client.createExperiment({ key });
  } catch (err) {
    if (!isStudioError(err, 'E_EXPERIMENT_EXISTS')) throw err;
    await client.createExperiment({ key, resume: true });
  }
}

/** Ends what openExperiment opened, as a run that exited 0 does, so a later step may resume it. */
export async function finishExperiment(client: ApiClient, key: string): Promise<void> {
  await client.finishExperiment(key, { status: 'finished', exitCode: 0 });
}
