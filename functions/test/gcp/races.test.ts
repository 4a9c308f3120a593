// The exclusive job transitions under forced races on Firestore (emulator), with Cloud Tasks behind its fake: the
// same suite as the SQLite backend (functions/test/conformance/races-local.test.ts).
import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import { readGcpConfig } from '../../src/config/gcp-config.ts';
import { openGcpBackend } from '../../src/hosts/cloud-function/gcp-backend.ts';
import { testExclusiveTransitions } from '../conformance/exclusive-transitions-suite.ts';
import { startFakeCloudTasks } from '../support/fake-cloud-tasks.ts';
import { mintMember } from './support/function-process.ts';

process.env.FIRESTORE_EMULATOR_HOST = inject('firestoreHost');

testExclusiveTransitions({
  name: 'firestore (emulator) + Cloud Tasks (fake)',
  async make() {
    const projectId = `demo-sl-${randomBytes(4).toString('hex')}`;
    const fake = await startFakeCloudTasks();
    const cfg = readGcpConfig({
      GOOGLE_CLOUD_PROJECT: projectId,
      STUDIO_BUCKET: 'bkt-unused',
      STUDIO_TASKS_QUEUE: 'studio-jobs',
      STUDIO_TASKS_SERVICE_ACCOUNT: 'tasks@demo-studio-lite.iam.gserviceaccount.com',
      // Tasks are only recorded by the fake: nothing listens there, and none is due within the test.
      STUDIO_PUBLIC_URL: 'http://127.0.0.1:9',
    });
    const deps = openGcpBackend(cfg, () => new Date(), { tasksApiEndpoint: fake.url });
    const team = `team-${randomBytes(3).toString('hex')}`;
    const token = await mintMember(deps, { team, userId: 'eddie', role: 'editor' });
    const editor = await deps.identity.authenticate(token);
    return {
      deps,
      editor,
      team,
      async cleanup() {
        await fake.close();
        await fetch(
          `http://${inject('firestoreHost')}/emulator/v1/projects/${projectId}/databases/(default)/documents`,
          {
            method: 'DELETE',
          },
        );
      },
    };
  },
});
