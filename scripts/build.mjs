// Bundles the CLI, the benchmarks and the Cloud Function with esbuild. Run by `npm install` (prepare) and
// `npm run build`. `node scripts/build.mjs --only=function` builds just the deployable function folder
// (functions/dist: index.js + package.json), which is what `npm run deploy:bundle` does and terraform zips.
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const only = process.argv.find((a) => a.startsWith('--only='))?.slice('--only='.length) ?? 'all';
if (!['all', 'cli', 'function'].includes(only)) {
  console.error(`build: unknown --only=${only} (expected cli or function)`);
  process.exit(2);
}
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
const requireBanner = "import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);";

/**
 * The harness files under test-setup/ and functions/test/ find their neighbours (the stand-in rules-runtime source,
 * the network-guard preload) through import.meta.url; a bundle would move that URL to cli/dist, so it is pinned to
 * the source file. Only the benchmarks bundle such files, and they run from a checkout.
 */
const pinImportMetaUrl = {
  name: 'pin-import-meta-url',
  setup(build) {
    build.onLoad({ filter: /[\\/](test-setup|functions[\\/]test)[\\/].*\.ts$/ }, (args) => ({
      contents: readFileSync(args.path, 'utf8').replaceAll(
        'import.meta.url',
        JSON.stringify(pathToFileURL(args.path).href),
      ),
      loader: 'ts',
    }));
  },
};

/**
 * @google-cloud/tasks (v6) reads its client config, protos and package.json at module load through
 * `getJSON(path.join(dirname, …))`, a require of a computed path that a bundle cannot follow: from functions/dist the
 * files are not there and the first task the function creates fails with "Cannot find module
 * …/cloud_tasks_client_config.json". Those calls become static JSON imports, which esbuild inlines; a call left over
 * (another SDK version) fails the build rather than the deployment.
 */
const inlineTasksJson = {
  name: 'inline-tasks-json',
  setup(build) {
    build.onLoad({ filter: /[\\/]@google-cloud[\\/]tasks[\\/]build[\\/]esm[\\/]src[\\/].*\.js$/ }, (args) => {
      const imports = [];
      const contents = readFileSync(args.path, 'utf8').replace(
        /\bgetJSON\(path\.join\(dirname((?:,\s*'[^']*')+)\)\)/g,
        (_, parts) => {
          const rel = [...parts.matchAll(/'([^']*)'/g)].map((m) => m[1]).join('/');
          const name = `__inlinedJson${imports.length}`;
          imports.push(`import ${name} from ${JSON.stringify(rel.startsWith('.') ? rel : `./${rel}`)};`);
          return name;
        },
      );
      if (/\bgetJSON\(/.test(contents)) {
        throw new Error(`${args.path}: a getJSON() call the build cannot inline; extend inlineTasksJson`);
      }
      return { contents: `${imports.join('\n')}\n${contents}`, loader: 'js' };
    });
  },
};

/**
 * The web UI (web/src, preact + htm): bundled to web/dist, then embedded into the CLI and the function bundles
 * (embedWebAssets), so both hosts serve the same bytes. The first page must stay within 150 KB gzipped; the
 * Google sign-in SDK is a separate chunk loaded only on deployments that configure it.
 */
const WEB_BUDGET_GZIP = 150 * 1024;
const webAssets = await buildWeb();

async function buildWeb() {
  const out = join(root, 'web/dist');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const r = await esbuild.build({
    entryPoints: { app: join(root, 'web/src/main.ts'), 'app-css': join(root, 'web/src/app.css') },
    outdir: out,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'browser',
    target: 'es2022',
    minify: true,
    chunkNames: 'chunk-[hash]',
    legalComments: 'none',
    metafile: true,
    logLevel: 'warning',
  });
  // esbuild names the CSS entry after its key; the page links /ui/app.css.
  const { renameSync } = await import('node:fs');
  renameSync(join(out, 'app-css.css'), join(out, 'app.css'));
  // The chunks app.js imports statically are fetched with it, not after it has been parsed (one round trip less).
  const appOut = Object.entries(r.metafile.outputs).find(([, o]) => o.entryPoint === 'web/src/main.ts');
  const chunks = (appOut?.[1].imports ?? [])
    .filter((i) => i.kind === 'import-statement')
    .map((i) => i.path.split('/').pop());
  const preload = chunks.map((c) => `    <link rel="modulepreload" href="/ui/${c}" />\n`).join('');
  const page = readFileSync(join(root, 'web/index.html'), 'utf8').replace(
    '    <script type="module"',
    `${preload}    <script type="module"`,
  );
  writeFileSync(join(out, 'index.html'), page);
  const { gzipSync } = await import('node:zlib');
  const assets = {};
  for (const name of readdirSync(out)) assets[name] = readFileSync(join(out, name)).toString('base64');
  // The first page: index.html, app.js with the chunks it imports statically, app.css.
  const firstPage = new Set(['index.html', 'app.css', 'app.js', ...chunks]);
  let gz = 0;
  for (const name of firstPage) gz += gzipSync(readFileSync(join(out, name))).length;
  if (gz > WEB_BUDGET_GZIP)
    throw new Error(`web UI first page is ${gz} bytes gzipped, over the ${WEB_BUDGET_GZIP} budget`);
  writeFileSync(join(out, 'budget.json'), `${JSON.stringify({ firstPageGzipBytes: gz, files: [...firstPage] })}\n`);
  return assets;
}

/** Replaces web-assets-embedded.ts with the built files (see functions/src/web-host/web-assets.ts). */
const embedWebAssets = {
  name: 'embed-web-assets',
  setup(build) {
    build.onLoad({ filter: /[\\/]web-host[\\/]web-assets-embedded\.ts$/ }, () => ({
      contents: `export const EMBEDDED_WEB_ASSETS = ${JSON.stringify(webAssets)};`,
      loader: 'js',
    }));
  },
};

if (only === 'all' || only === 'cli') {
  // Chunks of an earlier build would be packed and installed beside the new ones.
  const dist = join(root, 'cli/dist');
  if (existsSync(dist)) {
    for (const name of readdirSync(dist)) if (name.startsWith('chunk-')) rmSync(join(dist, name), { force: true });
  }
  await esbuild.build({
    entryPoints: {
      'studio-lite': entry,
      'local-host-worker': join(root, 'functions/src/hosts/local-server/worker-entry.ts'),
      // The hash pool's threads (cli/src/capture/hash-pool.ts loads ./hash-worker.js beside its chunk).
      'hash-worker': join(root, 'cli/src/capture/hash-worker.ts'),
    },
    outdir: join(root, 'cli/dist'),
    bundle: true,
    // Each command is a chunk that main.ts imports when it runs, so `--version` parses only commander and main
    // (the whole 2.1 MB bundle took ~150 ms to parse on every start); the worker shares the backend chunks.
    splitting: true,
    chunkNames: 'chunk-[hash]',
    platform: 'node',
    target: 'node20',
    format: 'esm',
    sourcemap: 'linked',
    external: ['better-sqlite3', '@google-cloud/*', 'firebase-admin'],
    banner: { js: requireBanner },
    plugins: [embedWebAssets],
    logLevel: 'warning',
  });
  // The benchmarks import the CLI's modules directly; they live beside the CLI bundle so the local-host worker
  // resolves. function-bench and cloud-bench also start the emulators and spawn the function bundle built below.
  await esbuild.build({
    entryPoints: {
      bench: join(root, 'bench/bench.ts'),
      'function-bench': join(root, 'bench/function-bench.ts'),
      'jobs-bench': join(root, 'bench/jobs-bench.ts'),
      'gc-bench': join(root, 'bench/gc-bench.ts'),
      'retention-bench': join(root, 'bench/retention-bench.ts'),
      'pull-bench': join(root, 'bench/pull-bench.ts'),
      'archive-bench': join(root, 'bench/archive-bench.ts'),
      'cloud-bench': join(root, 'bench/cloud-bench.ts'),
    },
    outdir: join(root, 'cli/dist'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    external: ['better-sqlite3', '@google-cloud/*', 'firebase-admin', 'vitest', 'vitest/*'],
    banner: { js: requireBanner },
    plugins: [pinImportMetaUrl],
    logLevel: 'warning',
  });
}

if (only === 'all' || only === 'function') await buildFunction();

/**
 * The Cloud Function: one ESM file with everything bundled except @google-cloud/functions-framework, which the
 * runtime starts (it must be the same module instance that `ff.http` registers the function with).
 *
 * Firestore and Storage are bundled, not left external. Measured here (11 interleaved cold starts each, spawn to
 * the first 200 of GET /v1/whoami on the emulators): bundled 3.5 MB minified, median ~0.8-1.0 s; external 0.5 MB
 * plus >= 25 MB / ~1,600 files of those packages' node_modules that Cloud Build must install, median ~1.4 s (hundreds
 * of module resolutions and file reads at cold start). The lazy gcp-backend import is inlined: the function always
 * needs it.
 * Their runtime-only file reads (grpc-js channelz/xds .proto files, gax's .proto directory) are unused: Firestore
 * loads its protos from JSON that esbuild inlines.
 */
async function buildFunction() {
  const out = join(root, 'functions/dist');
  mkdirSync(out, { recursive: true });
  await esbuild.build({
    entryPoints: { index: join(root, 'functions/src/hosts/cloud-function/index.ts') },
    outdir: out,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'esm',
    minify: true,
    // Error names and stack frames stay readable in Cloud Logging despite minification.
    keepNames: true,
    legalComments: 'none',
    external: ['@google-cloud/functions-framework'],
    plugins: [inlineTasksJson, embedWebAssets],
    // CommonJS dependencies in an ESM bundle still call require() and read __dirname.
    banner: {
      js: [
        requireBanner,
        "import { fileURLToPath as __fu } from 'node:url'; import { dirname as __dn } from 'node:path';",
        'const __filename = __fu(import.meta.url); const __dirname = __dn(__filename);',
      ].join(' '),
    },
    logLevel: 'warning',
  });
  // A JSON file an SDK reads by computed path at runtime is not in the two deployed files (see inlineTasksJson).
  const leftover = /"[^"]*_client_config\.json"/.exec(readFileSync(join(out, 'index.js'), 'utf8'));
  if (leftover) throw new Error(`functions/dist/index.js reads ${leftover[0]} at runtime; it is not deployed`);
  const ffPkg = join(root, 'node_modules/@google-cloud/functions-framework/package.json');
  const ffRange = JSON.parse(readFileSync(join(root, 'functions/package.json'), 'utf8')).dependencies[
    '@google-cloud/functions-framework'
  ];
  // Pinned to the version the tests ran against (Cloud Build installs from this file, without a lockfile).
  const ffVersion = existsSync(ffPkg) ? JSON.parse(readFileSync(ffPkg, 'utf8')).version : ffRange;
  const pkg = {
    name: 'studio-lite-function',
    version: JSON.parse(readFileSync(join(root, 'functions/package.json'), 'utf8')).version,
    private: true,
    type: 'module',
    main: 'index.js',
    engines: { node: '>=20' },
    dependencies: { '@google-cloud/functions-framework': ffVersion },
  };
  writeFileSync(join(out, 'package.json'), `${JSON.stringify(pkg, null, 2)}\n`);
  // Exactly these two files are deployed. Stale entries are removed after the build rather than the folder before
  // it, so a function already running from this folder (a test, the bench) never finds it missing.
  for (const name of readdirSync(out)) {
    if (name !== 'index.js' && name !== 'package.json') rmSync(join(out, name), { recursive: true, force: true });
  }
}
