import { closeSync, existsSync, fstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import type { ApiClient } from '../../api-client.ts';
import type { CliConfig } from '../../config.ts';
import { cliPaths } from '../../home/cli-home.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * The live output file of a run started from this $STUDIOML_HOME (`run` tees the script's stdout and stderr into
 * it as they arrive), or null for a run elsewhere (a worker, another machine): those only have captured versions.
 */
export function localOutputFile(cfg: CliConfig, key: string): string | null {
  const f = join(cliPaths(cfg.home).experiments, key, 'output');
  return existsSync(f) ? f : null;
}

/** Bytes of `file` from `offset` to its current end. */
function readFrom(file: string, offset: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const size = fstatSync(fd).size;
    if (size <= offset) return Buffer.alloc(0);
    const buf = Buffer.alloc(size - offset);
    const n = readSync(fd, buf, 0, buf.length, offset);
    return buf.subarray(0, n);
  } finally {
    closeSync(fd);
  }
}

/** `logs EXP` of a local run: everything it printed so far, also before its first capture. */
export function printLocalOutput(file: string): void {
  process.stdout.write(readFrom(file, 0));
}

/**
 * `logs -f EXP` of a local run: prints the output as the script writes it until the experiment is no longer
 * `running`, then returns the run's exit code (1 when it recorded none).
 */
export async function followLocalOutput(client: ApiClient, key: string, file: string, pollMs = 250): Promise<number> {
  let printed = 0;
  let lastCheck = 0;
  for (;;) {
    const chunk = readFrom(file, printed);
    if (chunk.length) {
      process.stdout.write(chunk);
      printed += chunk.length;
    }
    if (Date.now() - lastCheck >= 1000) {
      lastCheck = Date.now();
      const { experiment } = await client.showExperiment(key);
      if (experiment.status !== 'running') {
        const rest = readFrom(file, printed);
        if (rest.length) process.stdout.write(rest);
        return experiment.exitCode ?? 1;
      }
    }
    await sleep(pollMs);
  }
}
