// The issue-11 attack suite (functions/test/support/attack-suite.ts) on the local host.
import { afterAll, beforeAll } from 'vitest';
import { metadataPorts } from '../../src/core/ports.ts';
import { type AttackHost, describeAttacks } from '../support/attack-suite.ts';
import { type Harness, startHarness, TEAM } from './helpers.ts';

let h: Harness;
let host: AttackHost;

beforeAll(async () => {
  h = await startHarness();
  const deps = h.server.backend.deps;
  const root = await deps.identity.authenticate(h.token);
  host = {
    url: h.url,
    team: TEAM,
    ...metadataPorts(h),
    jobs: deps.jobs as NonNullable<typeof deps.jobs>,
    audit: deps.audit,
    root: { token: h.token, userId: root.userId },
  };
});
afterAll(async () => {
  await h?.close();
});

describeAttacks('local', () => host);
