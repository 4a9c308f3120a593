import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { assertExperimentKey } from '@studio-lite/functions/contract';
import * as z from 'zod';
import { cliPaths } from './cli-home.ts';
import { mkdirPrivate, writePrivateFile } from './private-files.ts';

/**
 * Experiments a `run --offline` captured into the embedded backend for a deployment it could not reach: one marker
 * file per experiment (`$STUDIOML_HOME/pending/<key>.json`, so concurrent runs never share a file), removed by the
 * push that sends it (`push --pending`).
 */
const marker = z.object({
  key: z.string().min(1),
  /** The deployment's API URL. */
  to: z.string().min(1),
  team: z.string().nullable(),
  at: z.string(),
});
export type PendingPush = z.infer<typeof marker>;

function file(home: string, key: string): string {
  return join(cliPaths(home).pending, `${assertExperimentKey(key)}.json`);
}

export function markPending(home: string, p: PendingPush): void {
  mkdirPrivate(cliPaths(home).pending);
  writePrivateFile(file(home, p.key), `${JSON.stringify(p, null, 2)}\n`);
}

/** Every marker, oldest first (unreadable ones are skipped). */
export function listPending(home: string): PendingPush[] {
  let names: string[];
  try {
    names = readdirSync(cliPaths(home).pending);
  } catch {
    return [];
  }
  const out: PendingPush[] = [];
  for (const n of names) {
    if (!n.endsWith('.json')) continue;
    try {
      const r = marker.safeParse(JSON.parse(readFileSync(join(cliPaths(home).pending, n), 'utf8')));
      if (r.success) out.push(r.data);
    } catch {
      // a marker being written right now, or garbage: not pending
    }
  }
  return out.sort((a, b) => a.at.localeCompare(b.at) || a.key.localeCompare(b.key));
}

export function clearPending(home: string, key: string): void {
  rmSync(file(home, key), { force: true });
}
