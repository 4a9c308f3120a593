// Issue 11.12 (12 in the findings): `worker --run-as USER` starts each script as another Unix user, so the
// script cannot read the worker's environment (its token) through /proc/$PPID/environ, nor its home; without it, it
// can. Needs root (the worker changes user) and Linux (/proc).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { cliOk, collect, freePort, type Sandbox, startCli, useSandboxes, waitFor } from './helpers.ts';
import { startWorker, useChildren, waitForJob } from './queue-helpers.ts';

const sandbox = useSandboxes();
const children = useChildren();
const PROBE = [
  'id -u',
  'if cat /proc/$PPID/environ > /dev/null 2>&1; then echo ENV-READABLE; else echo ENV-DENIED; fi',
  'if ls "$STUDIOML_HOME" > /dev/null 2>&1; then echo HOME-READABLE; else echo HOME-DENIED; fi',
  'echo written > result.txt && echo WROTE',
].join('; ');

async function served(): Promise<{ client: () => Sandbox }> {
  const server = sandbox();
  const port = await freePort();
  const child = startCli(server, ['serve', '--port', String(port)]);
  children.push(child);
  const out = collect(child);
  await waitFor(() => out.stdoutSoFar().includes('listening on'), 'serve to listen');
  const token = (JSON.parse(readFileSync(join(server.home, 'credentials.json'), 'utf8')) as { token: string }).token;
  return {
    client: () => {
      const sb = sandbox();
      sb.env.STUDIOML_API_URL = `http://127.0.0.1:${port}`;
      sb.env.STUDIOML_TOKEN = token;
      return sb;
    },
  };
}

const asRoot = process.platform === 'linux' && process.getuid?.() === 0;

describe('11.12 worker --run-as', () => {
  it.skipIf(!asRoot)("11.12 a script run as another user cannot read the worker's token or home", async () => {
    const d = await served();
    const user = d.client();
    writeFileSync(join(user.cwd, 'train.sh'), 'echo hi\n');
    for (const [key, extra] of [
      ['plain', [] as string[]],
      ['runas', ['--run-as', 'nobody']],
    ] as const) {
      await cliOk(user, ['run', '--queue', key, '-e', key, '--', 'sh', '-c', PROBE]);
      const w = startWorker(children, d.client(), key, ['--idle-exit', '3', ...extra]);
      const job = await waitForJob(user, key, (j) => j.status === 'finished' || j.status === 'failed', `${key} to end`);
      expect(job.exitCode, `${key}: ${(await w.out).stderr}`).toBe(0);
    }
    const plain = (await cliOk(user, ['logs', 'plain'])).stdout;
    expect(plain).toContain('ENV-READABLE'); // what --run-as is for: same user, same reach
    const runas = (await cliOk(user, ['logs', 'runas'])).stdout;
    expect(runas).toContain('65534');
    expect(runas).toContain('ENV-DENIED');
    expect(runas).toContain('HOME-DENIED');
    expect(runas).toContain('WROTE');
  });

  it('11.12 --run-as refuses an unknown user before taking any job', async () => {
    const d = await served();
    const r = startWorker(children, d.client(), 'none', ['--run-as', 'no-such-user-11', '--idle-exit', '1']);
    const done = await r.out;
    expect(done.code).not.toBe(0);
    expect(done.stderr).toMatch(/E_BAD_REQUEST/);
  });
});
