/**
 * `npm run deploy:bundle` writes the folder terraform zips: the example's default function_source_dir is
 * functions/dist, the module zips that folder whole, and the folder is something Cloud Build can deploy (an ESM
 * package whose main is index.js, with every package the bundle leaves external in its dependencies).
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { join, resolve } from 'node:path';
import * as esbuild from 'esbuild';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_DIR, loadModule, MODULE_DIR, REPO } from './tf.ts';

const DIST = join(REPO, 'functions/dist');

describe('function bundle', () => {
  it('npm run deploy:bundle builds only the function, into functions/dist', () => {
    const pkg = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(pkg.scripts['deploy:bundle']).toMatch(/node scripts\/build\.mjs --only=function/);
    expect(readFileSync(join(REPO, 'scripts/build.mjs'), 'utf8')).toMatch(/join\(root, 'functions\/dist'\)/);
  });

  it("the example's default function_source_dir is functions/dist, which the module zips whole", async () => {
    const example = await loadModule(EXAMPLE_DIR);
    const expr = String(example.locals.get('function_source_dir')?.value);
    const rel = /\$\{path\.module\}\/([^"}]+)"\)\}$/.exec(expr)?.[1];
    expect(rel, expr).toBeDefined();
    expect(resolve(EXAMPLE_DIR, rel as string)).toBe(DIST);
    const mod = await loadModule(MODULE_DIR);
    const archive = mod.data.get('archive_file.function')?.body ?? {};
    expect(archive.type).toBe('zip');
    expect(archive.source_dir).toBe(`\${var.function_source_dir}`);
    expect(archive.excludes).toBeUndefined();
    const object = mod.resources.get('google_storage_bucket_object.function_source')?.body ?? {};
    // Named by content hash: a new bundle is a new object, which redeploys the function.
    expect(String(object.name)).toMatch(/data\.archive_file\.function\.output_(sha256|md5|sha)\b/);
  });

  it.skipIf(!existsSync(join(DIST, 'index.js')))(
    'functions/dist is deployable: index.js + package.json, ESM, every external import a dependency',
    async () => {
      expect(readdirSync(DIST).sort()).toEqual(['index.js', 'package.json']);
      const pkg = JSON.parse(readFileSync(join(DIST, 'package.json'), 'utf8')) as {
        type?: string;
        main?: string;
        dependencies?: Record<string, string>;
      };
      expect(pkg.type).toBe('module');
      expect(pkg.main).toBe('index.js');
      // Let esbuild list what the bundle still imports at run time.
      const result = await esbuild.build({
        entryPoints: [join(DIST, 'index.js')],
        bundle: true,
        write: false,
        metafile: true,
        platform: 'node',
        format: 'esm',
        packages: 'external',
        logLevel: 'silent',
      });
      const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
      const externals = new Set(
        Object.values(result.metafile.inputs)
          .flatMap((i) => i.imports)
          .filter((i) => i.external && !builtins.has(i.path))
          .map((i) =>
            i.path.startsWith('@') ? i.path.split('/').slice(0, 2).join('/') : (i.path.split('/')[0] as string),
          ),
      );
      expect(externals.size).toBeGreaterThan(0); // functions-framework, which the runtime starts
      for (const e of externals) expect(Object.keys(pkg.dependencies ?? {}), `${e} is imported`).toContain(e);
    },
  );
});
