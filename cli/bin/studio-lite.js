#!/usr/bin/env node
// Thin launcher: the CLI is bundled by esbuild into dist/ (npm install / npm run build).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const bundle = fileURLToPath(new URL('../dist/studio-lite.js', import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write('studio-lite: the CLI is not built yet; run `npm run build` in the repository root\n');
  process.exit(70);
}
await import(bundle);
