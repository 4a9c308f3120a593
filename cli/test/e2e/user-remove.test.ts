// Issue 11.7: offboarding on a shared box. `user list` shows the box's users; `user remove` takes a user out of every
// team and revokes every token they hold (personal, worker), audited; the real binary against a real `serve`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cli,
  cliOk,
  collect,
  errorLine,
  freePort,
  makeSandbox,
  removeSandbox,
  type Sandbox,
  startCli,
  waitFor,
} from './helpers.ts';

const sandboxes: (Sandbox & { dirs: string[] })[] = [];
let box: Sandbox & { dirs: string[] };
let url: string;
let stop: () => void;

function clientOf(token: string): Sandbox {
  const sb = makeSandbox();
  sandboxes.push(sb);
  sb.env.STUDIOML_API_URL = url;
  sb.env.STUDIOML_TOKEN = token;
  return sb;
}

beforeAll(async () => {
  box = makeSandbox();
  sandboxes.push(box);
  const port = await freePort();
  const child = startCli(box, ['serve', '--port', String(port)]);
  stop = () => child.kill('SIGTERM');
  const out = collect(child);
  await waitFor(() => out.stdoutSoFar().includes('listening on'), 'serve to listen');
  url = `http://127.0.0.1:${port}`;
});
afterAll(() => {
  stop?.();
  for (const sb of sandboxes) removeSandbox(sb);
});

describe('11.7 user list and user remove on a shared box', () => {
  it('11.7 user remove takes the user out of every team and revokes every token they hold', async () => {
    const added = JSON.parse(
      (await cliOk(box, ['user', 'add', 'bob', '--team', 'local', '--role', 'admin', '--json'])).stdout,
    ) as { secret: string };
    const bob = clientOf(added.secret);
    const personal = JSON.parse((await cliOk(bob, ['token', 'create', '--json'])).stdout) as { secret: string };
    const worker = JSON.parse(
      (await cliOk(bob, ['--team', 'local', 'token', 'create', '--worker', '--queue', 'q1', '--json'])).stdout,
    ) as { secret: string };

    // 11.1: the box's admin sees bob's worker token among the team's tokens (never a secret) and could revoke it.
    const admin = clientOf(
      (JSON.parse(readFileSync(join(box.home, 'credentials.json'), 'utf8')) as { token: string }).token,
    );
    const teamTokens = await cliOk(admin, ['token', 'list', '--team', 'local', '--json']);
    expect(
      JSON.parse(teamTokens.stdout).tokens.map((t: { userId: string; kind: string }) => [t.userId, t.kind]),
    ).toContainEqual(['bob', 'worker']);
    expect(teamTokens.stdout).not.toMatch(/slt_/);
    expect((await cliOk(admin, ['token', 'list', '--team', 'local'])).stdout).toMatch(/^ID\s+KIND\s+OWNER\s+LABEL/);

    const listed = JSON.parse((await cliOk(box, ['user', 'list', '--json'])).stdout).users as {
      id: string;
      teams: Record<string, string>;
      liveTokens: number;
    }[];
    expect(listed.find((u) => u.id === 'bob')).toMatchObject({ teams: { local: 'admin' }, liveTokens: 3 });

    const removed = JSON.parse((await cliOk(box, ['user', 'remove', 'bob', '--json'])).stdout);
    expect(removed).toMatchObject({ userId: 'bob', teams: { local: 'admin' }, revokedTokens: 3 });

    for (const secret of [added.secret, personal.secret, worker.secret]) {
      const r = await cli(clientOf(secret), ['token', 'create']);
      expect(r.code, r.stderr).toBe(1);
      expect(errorLine(r.stderr).code).toBe('E_UNAUTHENTICATED');
    }
    const lease = await fetch(`${url}/v1/queues/q1/lease`, {
      method: 'POST',
      headers: { authorization: `Bearer ${worker.secret}`, 'content-type': 'application/json' },
      body: JSON.stringify({ worker: { id: 'w' } }),
    });
    expect(lease.status).toBe(401);
    const after = JSON.parse((await cliOk(box, ['user', 'list', '--json'])).stdout).users as { id: string }[];
    expect(after.find((u) => u.id === 'bob')).toMatchObject({ teams: {}, liveTokens: 0 });
    const audit = JSON.parse((await cliOk(box, ['audit', '--json'])).stdout).entries as {
      action: string;
      target: string;
    }[];
    expect(audit.filter((e) => e.action === 'token.revoke').length).toBeGreaterThanOrEqual(2);
    expect(audit.some((e) => e.action === 'member.remove' && e.target === 'bob')).toBe(true);
  });

  it('11.7 user remove refuses the last admin of a team and an unknown user, changing nothing', async () => {
    const carol = JSON.parse((await cliOk(box, ['user', 'add', 'carol', '--json'])).stdout) as { secret: string };
    await cliOk(clientOf(carol.secret), ['team', 'create', 'carols']);
    const r = await cli(box, ['user', 'remove', 'carol']);
    expect(r.code).not.toBe(0);
    expect(errorLine(r.stderr).code).toBe('E_CONFLICT');
    await cliOk(clientOf(carol.secret), ['token', 'list']);
    const unknown = await cli(box, ['user', 'remove', 'nobody']);
    expect(errorLine(unknown.stderr).code).toBe('E_NOT_FOUND');
  });
});
