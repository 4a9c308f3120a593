// Direct runs on the embedded backend hold a lease renewed by heartbeat (lease shortened to 2 s through
// STUDIOML_RUN_LEASE_SECONDS): kill -9 of the CLI turns the run `lost` within the lease; --resume is refused while
// a run is live and on a key that does not exist, accepted on a lost one; of two concurrent resumes exactly one
// wins; show keeps every attempt. Real binary, real processes.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cli,
  cliOk,
  collect,
  errorLine,
  experimentsJson,
  type Sandbox,
  showJson,
  startCli,
  useSandboxes,
  waitFor,
} from './helpers.ts';

const sandbox = useSandboxes();
const LEASE_S = 2;
const orphans: number[] = [];
afterEach(() => {
  // The script of a killed CLI keeps running (orphaned); stop it.
  for (const pid of orphans.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {}
  }
});

function leased(): Sandbox {
  const sb = sandbox();
  sb.env.STUDIOML_RUN_LEASE_SECONDS = String(LEASE_S);
  return sb;
}

/** A run whose script records its pid and then sleeps; resolves once the script runs. */
async function startSleeper(sb: Sandbox, key: string, extra: string[] = []) {
  const pidFile = join(sb.cwd, `${key}.pid`);
  const child = startCli(sb, ['run', '-e', key, ...extra, '--', 'sh', '-c', `echo $$ > ${key}.pid; exec sleep 60`]);
  const done = collect(child);
  await waitFor(() => existsSync(pidFile) && readFileSync(pidFile, 'utf8').trim() !== '', 'the script to start');
  const scriptPid = Number(readFileSync(pidFile, 'utf8'));
  orphans.push(scriptPid);
  return { child, done, scriptPid };
}

describe('run lease (local backend)', () => {
  it('kill -9 of the CLI: lost within the lease; --resume refused while live, accepted once lost; show keeps both attempts', async () => {
    const sb = leased();
    const run = await startSleeper(sb, 'k9');
    // Live: a resume from another shell is refused, exit 2, and the record is untouched.
    const refused = await cli(sb, ['run', '--resume', '-e', 'k9', '--', 'true']);
    expect(refused.code, refused.stderr).toBe(2);
    expect(errorLine(refused.stderr).code).toBe('E_CONFLICT');
    expect(refused.stderr).toContain('is running');
    // Still running more than a lease later: the heartbeat keeps it alive.
    await new Promise((r) => setTimeout(r, LEASE_S * 1000 + 500));
    expect((await showJson(sb, 'k9')).experiment.status).toBe('running');

    run.child.kill('SIGKILL');
    await run.done;
    const killedAt = Date.now();
    let status = 'running';
    while (status === 'running' && Date.now() - killedAt < (LEASE_S + 3) * 1000) {
      status = (await showJson(sb, 'k9')).experiment.status;
    }
    expect(status).toBe('lost');
    // Within the lease (plus the time one `show` takes to start).
    expect(Date.now() - killedAt).toBeLessThan(LEASE_S * 1000 + 2500);
    const lost = (await showJson(sb, 'k9')).experiment;
    expect(lost.lastSeenAt).toBeTruthy();
    expect(Date.parse(lost.lastSeenAt as string)).toBeLessThanOrEqual(killedAt);
    const text = (await cliOk(sb, ['show', 'k9'])).stdout;
    expect(text).toMatch(/status\s+lost/);
    expect(text).toContain(`last seen   ${lost.lastSeenAt}`);

    const resumed = await cli(sb, ['run', '--resume', '-e', 'k9', '--', 'sh', '-c', 'exit 4']);
    expect(resumed.code, resumed.stderr).toBe(4);
    const e = (await showJson(sb, 'k9')).experiment;
    expect(e.status).toBe('failed');
    expect(e.attempts?.map((a) => [a.attempt, a.status, a.command.at(-1), a.exitCode])).toEqual([
      [1, 'lost', `echo $$ > k9.pid; exec sleep 60`, null],
      [2, 'failed', 'exit 4', 4],
    ]);
    const shown = (await cliOk(sb, ['show', 'k9'])).stdout;
    expect(shown).toMatch(/attempt 1 +lost/);
    expect(shown).toMatch(/attempt 2 +failed exit 4/);
  });

  it('two concurrent --resume of the same key: exactly one wins, the other is E_CONFLICT (exit 2)', async () => {
    const sb = leased();
    await cliOk(sb, ['run', '-e', 'twice', '--', 'true']);
    const script = ['--', 'sh', '-c', 'sleep 3'];
    const [a, b] = await Promise.all([
      cli(sb, ['run', '--resume', '-e', 'twice', ...script]),
      cli(sb, ['run', '--resume', '-e', 'twice', ...script]),
    ]);
    const codes = [a.code, b.code].sort();
    expect(codes, `${a.stderr}\n${b.stderr}`).toEqual([0, 2]);
    const loser = a.code === 2 ? a : b;
    expect(errorLine(loser.stderr).code).toBe('E_CONFLICT');
    const e = (await showJson(sb, 'twice')).experiment;
    expect(e.attempts?.map((x) => [x.attempt, x.status])).toEqual([
      [1, 'finished'],
      [2, 'finished'],
    ]);
  });

  it('--resume of a key that never existed: E_NOT_FOUND, exit 2, nothing created', async () => {
    const sb = leased();
    const r = await cli(sb, ['run', '--resume', '-e', 'never-existed', '--', 'true']);
    expect(r.code, r.stderr).toBe(2);
    expect(errorLine(r.stderr).code).toBe('E_NOT_FOUND');
    expect(await experimentsJson(sb)).toEqual([]);
    expect(existsSync(join(sb.home, 'experiments', 'never-existed'))).toBe(false);
  });
});
