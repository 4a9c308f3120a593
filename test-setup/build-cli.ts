import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Vitest globalSetup for e2e: bundles the CLI once (cli/dist/studio-lite.js) so tests run the real binary. */
export function setup(): void {
  if (process.env.STUDIO_LITE_E2E_SKIP_BUILD === '1') return; // set by callers that just built (saves a rebuild)
  const r = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) {
    throw new Error(
      `e2e setup: "node scripts/build.mjs" failed (${r.error?.message ?? `exit ${r.status}`}); see above`,
    );
  }
}
