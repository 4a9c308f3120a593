// Issue 11.12: `login URL --with-token` reads the personal access token from standard input, so it never appears in
// argv (`ps`, shell history); `--token X` still works but warns.
import { spawn } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { BIN, cli, collect, freePort, type Sandbox, startCli, useSandboxes, waitFor } from './helpers.ts';

const sandbox = useSandboxes();
const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

function withStdin(sb: Sandbox, args: string[], input: string) {
  const child = spawn(process.execPath, [BIN, ...args], { cwd: sb.cwd, env: sb.env, stdio: ['pipe', 'pipe', 'pipe'] });
  child.stdin.end(input);
  return collect(child);
}

describe('11.12 login reads the token from standard input', () => {
  it('11.12 --with-token takes the token from stdin; --token warns', async () => {
    const server = sandbox();
    const port = await freePort();
    const child = startCli(server, ['serve', '--port', String(port)]);
    stops.push(() => child.kill('SIGTERM'));
    const out = collect(child);
    await waitFor(() => out.stdoutSoFar().includes('listening on'), 'serve to listen');
    const token = (JSON.parse(readFileSync(join(server.home, 'credentials.json'), 'utf8')) as { token: string }).token;
    const url = `http://127.0.0.1:${port}`;

    const client = sandbox();
    const r = await withStdin(client, ['login', url, '--with-token'], `${token}\n`);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('logged in to');
    expect(statSync(join(client.home, 'login.json')).mode & 0o777).toBe(0o600);

    const empty = await withStdin(sandbox(), ['login', url, '--with-token'], '');
    expect(empty.code).toBe(2);
    expect(empty.stderr).toContain('E_BAD_REQUEST');

    const old = await cli(sandbox(), ['login', url, '--token', token]);
    expect(old.code, old.stderr).toBe(0);
    expect(old.stderr).toMatch(/warning: --token puts the secret in the process list/);
  });
});
