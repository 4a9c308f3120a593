import { createInterface } from 'node:readline/promises';
import { StudioError } from '@studio-lite/functions/contract';
import { type GlobalOpts, withConnection } from '../with-connection.ts';

/** Asks on the terminal; without one the answer is no (pass --yes in scripts). */
async function confirm(question: string): Promise<boolean> {
  if (!process.stdin.isTTY || !process.stderr.isTTY) return false;
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(question)).trim());
  } finally {
    rl.close();
  }
}

/**
 * `studio-lite delete EXP`: removes an experiment with its artifacts and versions (team admins, or editors who own
 * it). A running or queued experiment needs --force. Asks first unless --yes.
 */
export async function deleteCommand(
  key: string,
  opts: GlobalOpts & { force?: boolean; yes?: boolean; json?: boolean },
) {
  if (!opts.yes) {
    if (!process.stdin.isTTY || !process.stderr.isTTY) {
      throw new StudioError('E_BAD_REQUEST', `not deleted: confirm with --yes to delete ${key} without a prompt`);
    }
    if (!(await confirm(`delete experiment ${key} with all its artifacts and versions? [y/N] `))) {
      // Answering no is a choice, not an error.
      process.stderr.write('cancelled: nothing deleted\n');
      return;
    }
  }
  await withConnection(opts, async ({ client }) => {
    const { deleted } = await client.deleteExperiment(key, opts.force === true);
    if (opts.json) {
      process.stdout.write(`${JSON.stringify(deleted, null, 2)}\n`);
      return;
    }
    process.stdout.write(
      `deleted experiment ${deleted.key} (${deleted.status}): ${deleted.artifacts} artifact(s), ${deleted.versions} version(s)\n`,
    );
  });
}
