// The import rules of the packages (.dependency-cruiser.cjs, docs/architecture.md "Packages"): no circle in
// functions/src, cli/src or web/src; the contract imports nothing else of the backend; the core only itself and the
// contract; the API no adapter or host; an adapter no API and no adapter of the other backend; the CLI and the web app the backend only through its exports map.
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cruise, type ICruiseResult } from 'dependency-cruiser';
import extractDepcruiseOptions from 'dependency-cruiser/config-utl/extract-depcruise-options';
import extractTSConfig from 'dependency-cruiser/config-utl/extract-ts-config';
import { describe, expect, it } from 'vitest';

// No trailing slash: dependency-cruiser refuses a baseDir that ends in one.
const root = resolve(fileURLToPath(new URL('../../../', import.meta.url)));

async function cruiseRepo(): Promise<ICruiseResult> {
  const options = await extractDepcruiseOptions(join(root, '.dependency-cruiser.cjs'));
  const tsConfig = extractTSConfig(join(root, 'tsconfig.json'));
  const result = await cruise(['functions/src', 'cli/src', 'web/src'], { ...options, baseDir: root }, {}, { tsConfig });
  return result.output as ICruiseResult;
}

describe('import graph', () => {
  it('follows the package rules (no circle, contract <- core <- api | adapters <- hosts, clients via entries)', async () => {
    const out = await cruiseRepo();
    // Not vacuous: all three trees were read, and a client import of the contract resolved to the real file.
    const sources = new Set(out.modules.map((m) => m.source));
    for (const f of ['functions/src/core/artifacts.ts', 'cli/src/main.ts', 'web/src/main.ts']) {
      expect(sources, f).toContain(f);
    }
    const main = out.modules.find((m) => m.source === 'cli/src/main.ts');
    expect(main?.dependencies.map((d) => d.resolved)).toContain('functions/src/contract/errors-entry.ts');

    const violations = out.summary.violations.map((v) => {
      const via = v.cycle?.map((c) => c.name).join(' -> ');
      return `${v.rule.name}: ${v.from} -> ${via ?? v.to}`;
    });
    expect(violations, `import rules broken:\n${violations.join('\n')}`).toEqual([]);
  }, 180_000);
});
