import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  cli,
  cliOk,
  collect,
  errorLine,
  experimentsJson,
  freePort,
  startCli,
  useSandboxes,
  waitFor,
} from './helpers.ts';

const sandbox = useSandboxes();
const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

describe('serve + login: several processes share one backend over HTTP', () => {
  it('runs from a second home go to the served backend; logout returns to the embedded one', async () => {
    const server = sandbox();
    const port = await freePort();
    const child = startCli(server, ['serve', '--port', String(port)]);
    stops.push(() => child.kill('SIGTERM'));
    const out = collect(child);
    await waitFor(() => out.stdoutSoFar().includes('listening on'), 'serve to listen');
    const token = (JSON.parse(readFileSync(join(server.home, 'credentials.json'), 'utf8')) as { token: string }).token;

    const client = sandbox();
    const url = `http://127.0.0.1:${port}`;
    const bad = await cli(client, ['login', url, '--token', `slt_${'x'.repeat(43)}`]);
    expect(bad.code).toBe(1);
    expect(errorLine(bad.stderr).code).toBe('E_UNAUTHENTICATED');

    await cliOk(client, ['login', url, '--token', token]);
    expect(statSync(join(client.home, 'login.json')).mode & 0o777).toBe(0o600);
    await cliOk(client, ['run', '-q', '-e', 'remote-one', '--', 'node', '-e', 'console.log(1)']);
    // The experiment lives in the server's home, not in the client's.
    expect((await experimentsJson(server)).map((e) => e.key)).toContain('remote-one');
    expect((await experimentsJson(client)).map((e) => e.key)).toContain('remote-one');

    await cliOk(client, ['logout']);
    expect((await experimentsJson(client)).map((e) => e.key)).not.toContain('remote-one');
    child.kill('SIGTERM');
    expect((await out).code).toBe(0);
  });

  it('refuses plain http to a non-loopback host and a malformed URL', async () => {
    const sb = sandbox();
    const r1 = await cli(sb, ['login', 'http://example.org', '--token', 'x']);
    expect(r1.code).toBe(2);
    expect(errorLine(r1.stderr).code).toBe('E_BAD_REQUEST');
    const r2 = await cli(sb, ['login', 'not a url', '--token', 'x']);
    expect(r2.code).toBe(2);
  });
});
