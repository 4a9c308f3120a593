import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

// Child processes (the bundled CLI, local hosts) get the same guard, failing like a refused connection.
const preload = `--import=${new URL('./test-setup/network-guard-preload.mjs', import.meta.url).href}`;
const nodeOptions = [process.env.NODE_OPTIONS, preload].filter(Boolean).join(' ');

export default defineConfig({
  test: {
    env: {
      // Keeps Google client libraries from probing the cloud metadata server (link-local address).
      METADATA_SERVER_DETECTION: 'none',
      GCE_METADATA_HOST: '127.0.0.1:1',
      GOOGLE_CLOUD_PROJECT: 'demo-studio-lite',
      NODE_OPTIONS: nodeOptions,
    },
    setupFiles: [here('./test-setup/no-network.ts')],
    projects: [
      {
        extends: true,
        test: {
          name: 'unit',
          sequence: { groupOrder: 0 },
          // Generous ceiling for a loaded 2-core CI machine; passing tests do not wait for it.
          testTimeout: 20_000,
          include: [
            'functions/test/unit/**/*.test.ts',
            'functions/test/conformance/**/*.test.ts',
            'functions/test/api/**/*.test.ts',
            'cli/test/unit/**/*.test.ts',
            'web/test/**/*.test.ts',
          ],
        },
      },
      {
        extends: true,
        test: {
          name: 'gcp',
          // The GCP adapters against the real emulators (started once for the project by the global setups).
          sequence: { groupOrder: 1 },
          include: ['functions/test/gcp/**/*.test.ts'],
          globalSetup: [
            here('./test-setup/emulators/firestore-global-setup.ts'),
            here('./test-setup/emulators/storage-global-setup.ts'),
            here('./test-setup/emulators/auth-global-setup.ts'),
          ],
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 30_000,
          hookTimeout: 60_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          // After the unit group, one file at a time: e2e tests start servers and emulators on a small machine.
          sequence: { groupOrder: 2 },
          include: ['functions/test/e2e/**/*.test.ts', 'cli/test/e2e/**/*.test.ts'],
          globalSetup: [here('./test-setup/build-cli.ts')],
          pool: 'forks',
          fileParallelism: false,
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
    ],
  },
});
