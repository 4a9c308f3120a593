import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

let cached: string | undefined;

/**
 * The folder of the installed `studio-lite` package (its package.json), found by walking up from this module: the
 * same answer from the bundle (dist/), from a global npm install and from the TypeScript sources (src/), so files
 * shipped beside the code (python/studio) are found wherever the package lives.
 */
export function packageRoot(): string {
  if (cached) return cached;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'studio-lite') {
      cached = dir;
      return dir;
    }
    const up = dirname(dir);
    if (up === dir) throw new Error('studio-lite: cannot find its own package.json (a broken install?)');
    dir = up;
  }
}

/** The version in the package's package.json (the one `npm pack` wrote into the tarball's name). */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}
