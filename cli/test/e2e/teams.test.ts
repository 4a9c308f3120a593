// A shared box: `studio-lite serve --listen` on one home, users made with `user add`, each CLI with its own home and
// token (STUDIOML_API_URL + STUDIOML_TOKEN). Team membership decides what alice sees of bob's team; every membership
// change, the download and the delete show up in `audit --json`. Real binary, real server process.
import { mkdirSync, readFileSync } from 'node:fs';
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

interface UserAddJson {
  user: { id: string; email: string | null };
  team: string | null;
  role: string | null;
  secret: string;
  token: { id: string; expiresAt: string };
}
interface AuditJson {
  id: string;
  team: string;
  at: string;
  actor: { userId: string; tokenId: string; kind: string };
  action: string;
  target: string;
  details: Record<string, unknown>;
}

// 127.0.0.2 is loopback too, but not the default 127.0.0.1: it shows that --listen binds the address given.
const HOST = '127.0.0.2';
const boxes: (Sandbox & { dirs: string[] })[] = [];
let box: Sandbox & { dirs: string[] };
let url: string;
let stopServer: () => void;
let served: ReturnType<typeof collect>;
let alice: Sandbox;
let bob: Sandbox;
let aliceUser: UserAddJson;
let bobUser: UserAddJson;

function clientOf(token: string): Sandbox {
  const sb = makeSandbox();
  boxes.push(sb);
  sb.env.STUDIOML_API_URL = url;
  sb.env.STUDIOML_TOKEN = token;
  return sb;
}

const json = <T>(out: { stdout: string }) => JSON.parse(out.stdout) as T;
/** The list inside a list command's one JSON object (`{"experiments": […]}`, `{"entries": […]}`, …). */
const list = <T>(out: { stdout: string }, key: string) => (JSON.parse(out.stdout) as Record<string, T[]>)[key] as T[];

async function refused(sb: Sandbox, args: string[], code: string): Promise<string> {
  const r = await cli(sb, args);
  expect(r.code, `${args.join(' ')}\n${r.stdout}\n${r.stderr}`).not.toBe(0);
  const line = errorLine(r.stderr);
  expect(line.code).toBe(code);
  return line.message;
}

beforeAll(async () => {
  box = makeSandbox();
  boxes.push(box);
  const port = await freePort();
  const child = startCli(box, ['serve', '--listen', HOST, '--port', String(port)]);
  stopServer = () => child.kill('SIGTERM');
  served = collect(child);
  await waitFor(() => served.stdoutSoFar().includes('listening on'), 'serve to listen');
  url = `http://${HOST}:${port}`;
  expect(served.stdoutSoFar()).toContain(`listening on ${url}`);
  // On the box itself (embedded backend, same database as the server): two users with their first tokens.
  aliceUser = json(
    await cliOk(box, [
      'user',
      'add',
      'alice',
      '--email',
      'Alice@Example.org',
      '--team',
      'local',
      '--role',
      'editor',
      '--json',
    ]),
  );
  bobUser = json(await cliOk(box, ['user', 'add', 'bob', '--json']));
  alice = clientOf(aliceUser.secret);
  bob = clientOf(bobUser.secret);
});

afterAll(async () => {
  stopServer?.();
  if (served) await served;
  for (const b of boxes.splice(0)) removeSandbox(b);
});

describe('serve --listen on a shared box', () => {
  it('binds exactly the given address', async () => {
    const res = await fetch(`${url}/v1/whoami`);
    expect(res.status).toBe(401);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('E_UNAUTHENTICATED');
    const port = new URL(url).port;
    await expect(fetch(`http://127.0.0.1:${port}/v1/whoami`)).rejects.toThrow();
  });

  it('user add prints a token once, stores only its hash, and refuses to run against a deployment', async () => {
    expect(aliceUser.secret).toMatch(/^slt_[A-Za-z0-9_-]{43}$/);
    expect(aliceUser).toMatchObject({
      user: { id: 'alice', email: 'alice@example.org' },
      team: 'local',
      role: 'editor',
    });
    expect(Date.parse(aliceUser.token.expiresAt) - Date.now()).toBeGreaterThan(89 * 24 * 3600_000);
    expect(bobUser.team).toBeNull();
    const db = readFileSync(join(box.home, 'db', 'studio.sqlite'));
    expect(db.includes(Buffer.from(aliceUser.secret))).toBe(false);
    // From a client pointed at the server: refused before anything is written.
    const msg = await refused(alice, ['user', 'add', 'mallory'], 'E_BAD_REQUEST');
    expect(msg).toMatch(/embedded backend/);
    expect(msg).toMatch(/STUDIOML_API_URL/);
    await refused(box, ['user', 'add', 'alice'], 'E_CONFLICT');
    await refused(box, ['user', 'add', 'carol', '--team', 'no-such-team'], 'E_FORBIDDEN');
    await refused(box, ['user', 'add', 'bad/id'], 'E_BAD_KEY');
    await refused(box, ['serve', '--public-url', 'ftp://x'], 'E_BAD_REQUEST');
  });
});

describe("two users, two teams: membership decides what alice sees of bob's team", () => {
  it('create, add, remove, audit and delete through the real binary', async () => {
    // Bob has no team yet; he creates one and runs an experiment in it (his only team, so no --team needed).
    await refused(bob, ['experiments'], 'E_FORBIDDEN');
    const created = json<{ id: string; createdBy: string }>(await cliOk(bob, ['team', 'create', 'bobs', '--json']));
    expect(created).toMatchObject({ id: 'bobs', createdBy: 'bob' });
    mkdirSync(join(bob.cwd, 'out'));
    await cliOk(bob, [
      'run',
      '-q',
      '-e',
      'bob-exp',
      '-c',
      'out:model',
      '--',
      'node',
      '-e',
      "require('fs').writeFileSync('out/w.txt','from bob\\n')",
    ]);
    const bobsList = list<{ key: string }>(await cliOk(bob, ['experiments', '--json']), 'experiments');
    expect(bobsList.map((e) => e.key)).toEqual(['bob-exp']);

    // Alice (editor of `local` only) sees nothing of it.
    const own = list<{ key: string }>(await cliOk(alice, ['experiments', '--json']), 'experiments');
    expect(own.map((e) => e.key)).not.toContain('bob-exp');
    await refused(alice, ['experiments', '--team', 'bobs', '--json'], 'E_FORBIDDEN');
    await refused(alice, ['show', 'bob-exp', '--team', 'bobs'], 'E_FORBIDDEN');
    await refused(alice, ['team', 'members', 'bobs'], 'E_FORBIDDEN');
    await refused(alice, ['team', 'add', 'bobs', 'alice', '--role', 'admin'], 'E_FORBIDDEN');

    // Bob adds her by email as a viewer.
    const added = json<{ changed: boolean; member: { userId: string; role: string } }>(
      await cliOk(bob, ['team', 'add', 'bobs', 'alice@example.org', '--role', 'viewer', '--json']),
    );
    expect(added).toMatchObject({ changed: true, member: { userId: 'alice', role: 'viewer' } });
    await refused(bob, ['team', 'add', 'bobs', 'nobody@example.org'], 'E_NOT_FOUND');
    await refused(bob, ['team', 'add', 'bobs', 'alice', '--role', 'owner'], 'E_BAD_REQUEST');

    const teams = list<{ id: string; role: string }>(await cliOk(alice, ['team', 'list', '--json']), 'teams');
    expect(teams.map((t) => [t.id, t.role])).toEqual([
      ['bobs', 'viewer'],
      ['local', 'editor'],
    ]);
    // Several teams now: she must pick one (option after or before the command, or STUDIOML_TEAM).
    await refused(alice, ['experiments'], 'E_BAD_REQUEST');
    const seen = list<{ key: string }>(await cliOk(alice, ['experiments', '--team', 'bobs', '--json']), 'experiments');
    expect(seen.map((e) => e.key)).toEqual(['bob-exp']);
    const seen2 = list<{ key: string }>(await cliOk(alice, ['--team', 'bobs', 'experiments', '--json']), 'experiments');
    expect(seen2.map((e) => e.key)).toEqual(['bob-exp']);
    const viaEnv = { ...alice, env: { ...alice.env, STUDIOML_TEAM: 'bobs' } };
    expect(
      list<{ key: string }>(await cliOk(viaEnv, ['experiments', '--json']), 'experiments').map((e) => e.key),
    ).toEqual(['bob-exp']);
    const dest = alice.tmp();
    await cliOk(alice, ['pull', 'bob-exp/model', '--team', 'bobs', '-o', join(dest, 'm'), '--json']);
    expect(readFileSync(join(dest, 'm', 'w.txt'), 'utf8')).toBe('from bob\n');
    const members = list<{ userId: string; role: string }>(
      await cliOk(alice, ['team', 'members', 'bobs', '--json']),
      'members',
    );
    expect(members.map((m) => [m.userId, m.role])).toEqual([
      ['alice', 'viewer'],
      ['bob', 'admin'],
    ]);
    // A viewer can neither delete nor read the audit log.
    await refused(alice, ['delete', 'bob-exp', '--team', 'bobs', '--yes'], 'E_FORBIDDEN');
    await refused(alice, ['audit', '--team', 'bobs'], 'E_FORBIDDEN');

    // Bob removes her: access ends at once.
    const removed = json<{ userId: string; previousRole: string }>(
      await cliOk(bob, ['team', 'remove', 'bobs', 'alice', '--json']),
    );
    expect(removed).toEqual({ team: 'bobs', userId: 'alice', previousRole: 'viewer' });
    await refused(alice, ['experiments', '--team', 'bobs', '--json'], 'E_FORBIDDEN');
    await refused(bob, ['team', 'remove', 'bobs', 'bob'], 'E_CONFLICT'); // the last admin stays

    // Delete: needs --yes without a terminal; then the experiment is gone.
    const shown = json<{ artifacts: { versions: unknown[] }[] }>(await cliOk(bob, ['show', 'bob-exp', '--json']));
    const counts = {
      artifacts: shown.artifacts.length,
      versions: shown.artifacts.reduce((n, a) => n + a.versions.length, 0),
    };
    expect(counts.artifacts).toBeGreaterThanOrEqual(2); // model + what run captures by itself
    await refused(bob, ['delete', 'bob-exp'], 'E_BAD_REQUEST');
    const deleted = json<{ key: string; artifacts: number; versions: number }>(
      await cliOk(bob, ['delete', 'bob-exp', '--yes', '--json']),
    );
    expect(deleted).toEqual({ key: 'bob-exp', status: 'finished', ...counts });
    await refused(bob, ['show', 'bob-exp'], 'E_NOT_FOUND');

    // The audit log of team bobs, newest first: every change above, who did it, and no secret anywhere.
    const out = await cliOk(bob, ['audit', '--json']);
    const entries = list<AuditJson>(out, 'entries');
    expect(entries.map((e) => [e.action, e.actor.userId, e.target]).reverse()).toEqual([
      ['team.create', 'bob', 'bobs'],
      ['member.add', 'bob', 'alice'],
      ['download.sign', 'alice', 'bob-exp/model@1'],
      ['member.remove', 'bob', 'alice'],
      ['experiment.delete', 'bob', 'bob-exp'],
    ]);
    expect(entries.every((e) => e.team === 'bobs')).toBe(true);
    expect(out.stdout).not.toContain(aliceUser.secret);
    expect(out.stdout).not.toContain(bobUser.secret);
    const onlyDeletes = list<AuditJson>(
      await cliOk(bob, ['audit', '--action', 'experiment.delete', '--json']),
      'entries',
    );
    expect(onlyDeletes).toHaveLength(1);
    expect(onlyDeletes[0]?.details).toMatchObject({ ...counts, status: 'finished', owner: 'bob' });
    const page = list<AuditJson>(await cliOk(bob, ['audit', '--limit', '2', '--json']), 'entries');
    expect(page.map((e) => e.action)).toEqual(['experiment.delete', 'member.remove']);
    const table = (await cliOk(bob, ['audit'])).stdout;
    expect(table.split('\n')[0]).toMatch(/^TIME\s+ACTION\s+ACTOR\s+TARGET\s+DETAILS$/);

    // The box's own audit of team local shows alice's first token (minted by user add) and her membership.
    const local = list<AuditJson>(await cliOk(box, ['audit', '--json']), 'entries');
    expect(local.map((e) => [e.action, e.target])).toEqual(
      expect.arrayContaining([
        ['member.add', 'alice'],
        ['token.create', aliceUser.token.id],
      ]),
    );
    await refused(box, ['audit', '--limit', 'x'], 'E_BAD_REQUEST');
  });
});
