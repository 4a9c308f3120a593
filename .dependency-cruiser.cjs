/**
 * The import rules of the packages (docs/architecture.md, "Packages"):
 *   contract <- core <- api <- adapters <- hosts;   cli, web -> the contract and the local entry only.
 * Checked by `npm run lint:imports` and functions/test/unit/import-graph.test.ts. Type-only imports count.
 */
const fn = '^functions/src/';

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
  forbidden: [
    {
      name: 'no-circular',
      severity: 'error',
      comment: 'An import circle: modules that cannot be understood, tested or loaded one without the other.',
      from: { path: '^(functions/src|cli/src|web/src)/' },
      to: { circular: true },
    },
    {
      name: 'contract-is-the-bottom',
      severity: 'error',
      comment: 'The contract is what clients share with the backend; it imports nothing else from functions/src.',
      from: { path: `${fn}contract/` },
      to: { path: fn, pathNot: `${fn}contract/` },
    },
    {
      name: 'core-imports-core-and-contract',
      severity: 'error',
      comment: 'The core owns the logic: it sees only itself and the contract (ports are its own interfaces).',
      from: { path: `${fn}core/` },
      to: { path: fn, pathNot: `${fn}(core|contract)/` },
    },
    {
      name: 'api-not-adapters-or-hosts',
      severity: 'error',
      comment: "The HTTP API works on ports; which adapter fills them is the composition root's choice (hosts/).",
      from: { path: `${fn}api/` },
      to: { path: `${fn}(adapters|hosts)/` },
    },
    {
      name: 'adapters-below-api',
      severity: 'error',
      comment: 'An adapter fills a port of the core; the HTTP API and the web host sit above it, never beside it.',
      from: { path: `${fn}adapters/` },
      to: { path: `${fn}(api|web-host)/` },
    },
    {
      name: 'adapters-do-not-cross-backends',
      severity: 'error',
      comment: 'The local and the GCP adapters are alternatives: neither imports the other (hosts/ wires them).',
      from: { path: `${fn}adapters/(local|gcp)/` },
      to: { path: `${fn}adapters/`, pathNot: `${fn}adapters/$1/` },
    },
    {
      name: 'hosts-are-the-top',
      severity: 'error',
      comment: 'Hosts compose everything; nothing below them imports a host.',
      from: { path: `${fn}(contract|core|api|adapters|config|web-host)/` },
      to: { path: `${fn}hosts/` },
    },
    {
      name: 'clients-through-entry-points',
      severity: 'error',
      comment:
        'The CLI and the web app import the backend only through its exports map (@studio-lite/functions/contract, ' +
        '/contract/errors, /local, /local-api), never a file of functions/ by path.',
      from: { path: '^(cli|web)/src/' },
      to: {
        path: '^functions/',
        pathNot: [
          '^functions/src/contract/index\\.ts$',
          '^functions/src/contract/errors-entry\\.ts$',
          '^functions/src/contract/pure\\.ts$',
          '^functions/src/hosts/local-server/index\\.ts$',
          '^functions/src/hosts/local-server/local-api\\.ts$',
          // Until the CLI's home layout lives in the CLI (issue 12): the two exports-map entries that still serve it.
          '^functions/src/adapters/local/(local-home|private-files)\\.ts$',
        ],
      },
    },
    {
      name: 'web-takes-types-only',
      severity: 'error',
      comment: 'The contract uses node built-ins (hashing, statfs): the browser bundle may take its types only.',
      from: { path: '^web/src/' },
      to: {
        path: '^functions/',
        pathNot: '^functions/src/contract/(pure|checkpoints|retention-text)\\.ts$',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'pure-contract-is-browser-safe',
      severity: 'error',
      comment: 'contract/pure.ts is what the browser bundle may run: it and what it imports use no node built-in.',
      from: { path: '^functions/src/contract/(pure|checkpoints|retention-text)\\.ts$' },
      to: { dependencyTypes: ['core'] },
    },
    {
      name: 'pure-contract-stays-small',
      severity: 'error',
      comment: 'contract/pure.ts re-exports browser-safe modules only (listed here); their imports are types.',
      from: { path: '^functions/src/contract/(pure|checkpoints|retention-text)\\.ts$' },
      to: {
        path: '^functions/',
        pathNot: '^functions/src/contract/(pure|checkpoints|retention-text)\\.ts$',
        dependencyTypesNot: ['type-only'],
      },
    },
    {
      name: 'clients-resolve',
      severity: 'error',
      comment: 'A client import that does not resolve: a deep path the exports map does not offer, or a typo.',
      from: { path: '^(cli|web)/src/' },
      to: { couldNotResolve: true },
    },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    exclude: { path: '(^|/)(node_modules|dist)/' },
    tsPreCompilationDeps: true,
    tsConfig: { fileName: 'tsconfig.json' },
    combinedDependencies: true,
    // Resolve @studio-lite/functions/* through its exports map, as node, tsc and esbuild do.
    enhancedResolveOptions: { exportsFields: ['exports'], conditionNames: ['import', 'default'], mainFields: ['main'] },
  },
};
