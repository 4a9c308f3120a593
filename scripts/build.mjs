// Bundles the CLI (and later the Cloud Function) with esbuild. Run by `npm install` (prepare) and `npm run build`.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
let esbuild;
try {
  esbuild = await import('esbuild');
} catch {
  // prepare runs before devDependencies exist on a partial install; the test and run scripts build again.
  console.warn('build: esbuild not installed yet, skipping');
  process.exit(0);
}
const entry = join(root, 'cli/src/main.ts');
if (!existsSync(entry)) process.exit(0);
await esbuild.build({
  entryPoints: {
    'studio-lite': entry,
    'local-host-worker': join(root, 'functions/src/hosts/local-server/worker-entry.ts'),
  },
  outdir: join(root, 'cli/dist'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  sourcemap: 'linked',
  external: ['better-sqlite3', '@google-cloud/*', 'firebase-admin'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
// The benchmark imports the CLI's modules directly; it lives beside the CLI bundle so the local-host worker resolves.
await esbuild.build({
  entryPoints: { bench: join(root, 'bench/bench.ts') },
  outdir: join(root, 'cli/dist'),
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  external: ['better-sqlite3', '@google-cloud/*', 'firebase-admin'],
  banner: { js: "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" },
  logLevel: 'warning',
});
