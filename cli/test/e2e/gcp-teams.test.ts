// Teams, the audit log and deletion against a team deployment on this machine: the real binary, the bundled Cloud
// Function, Firestore and Storage emulators (so the Firestore adapters, including the append-only audit collection
// and the last-admin guard, run behind the real HTTP host).
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mintMember } from '../../../functions/test/gcp/support/function-process.ts';
import { type GcpDeployment, startGcpDeployment } from './gcp-harness.ts';
import { cli, cliOk, errorLine, makeSandbox, removeSandbox, type Sandbox } from './helpers.ts';

let dep: GcpDeployment;
const sandboxes: ReturnType<typeof makeSandbox>[] = [];

function as(token: string): Sandbox {
  const sb = makeSandbox();
  sandboxes.push(sb);
  return { ...sb, env: { ...dep.env(sb), STUDIOML_TOKEN: token } };
}

async function refused(sb: Sandbox, args: string[], code: string): Promise<void> {
  const r = await cli(sb, args);
  expect(r.code, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).not.toBe(0);
  expect(errorLine(r.stderr).code).toBe(code);
}

beforeAll(async () => {
  dep = await startGcpDeployment();
}, 90_000);

afterAll(async () => {
  for (const sb of sandboxes) removeSandbox(sb);
  await dep?.stop();
});

describe('teams and audit on the Cloud Function + Firestore', () => {
  it('a new team: add, see, remove, delete, and the audit log of all of it', async () => {
    const owner = as(dep.token); // admin of the deployment's team
    // Someone who has "signed in once": a user record with a token and no team.
    const carlaToken = await mintMember(dep, { team: 'scratch', userId: 'carla', role: 'viewer' });
    await dep.accounts.setMembership('scratch', 'carla', null);
    const carla = as(carlaToken);

    await cliOk(owner, ['team', 'create', 'vision', '--json']);
    mkdirSync(join(owner.cwd, 'out'));
    await cliOk(owner, [
      'run',
      '-q',
      '--team',
      'vision',
      '-e',
      'v-exp',
      '-c',
      'out:model',
      '--',
      'node',
      '-e',
      "require('fs').writeFileSync('out/m.txt','weights\\n')",
    ]);
    await refused(carla, ['experiments', '--team', 'vision'], 'E_FORBIDDEN');
    await cliOk(owner, ['team', 'add', 'vision', 'carla', '--role', 'viewer']);
    const seen = JSON.parse((await cliOk(carla, ['experiments', '--json'])).stdout).experiments as { key: string }[];
    expect(seen.map((e) => e.key)).toEqual(['v-exp']);
    await cliOk(carla, ['pull', 'v-exp/model', '-o', join(carla.tmp(), 'm')]);
    await refused(owner, ['team', 'remove', 'vision', 'e2e-user'], 'E_CONFLICT'); // the last admin stays
    await cliOk(owner, ['team', 'remove', 'vision', 'carla']);
    await refused(carla, ['experiments', '--team', 'vision'], 'E_FORBIDDEN');
    const del = JSON.parse((await cliOk(owner, ['delete', 'v-exp', '--team', 'vision', '--yes', '--json'])).stdout);
    expect(del).toMatchObject({ key: 'v-exp', status: 'finished' });
    await refused(owner, ['show', 'v-exp', '--team', 'vision'], 'E_NOT_FOUND');

    const out = await cliOk(owner, ['audit', '--team', 'vision', '--json']);
    const entries = JSON.parse(out.stdout).entries as { action: string; actor: { userId: string }; target: string }[];
    expect(entries.map((e) => [e.action, e.actor.userId, e.target]).reverse()).toEqual([
      ['team.create', 'e2e-user', 'vision'],
      ['member.add', 'e2e-user', 'carla'],
      ['download.sign', 'carla', 'v-exp/model@1'],
      ['member.remove', 'e2e-user', 'carla'],
      ['experiment.delete', 'e2e-user', 'v-exp'],
    ]);
    expect(out.stdout).not.toContain(dep.token);
    const adds = JSON.parse(
      (await cliOk(owner, ['audit', '--team', 'vision', '--action', 'member.add', '--json'])).stdout,
    ).entries as unknown[];
    expect(adds).toHaveLength(1);
  });
});
