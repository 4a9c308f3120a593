// `token create | list | revoke` against the embedded backend, then a revoked token refused by `studio-lite serve`.
import { afterEach, describe, expect, it } from 'vitest';
import { cli, cliOk, collect, errorLine, freePort, startCli, useSandboxes, waitFor } from './helpers.ts';

const sandbox = useSandboxes();
const stops: (() => void)[] = [];
afterEach(() => {
  for (const s of stops.splice(0)) s();
});

interface TokenJson {
  id: string;
  userId: string;
  kind: string;
  scopes: string[];
  createdAt: string;
  expiresAt: string | null;
  revokedAt: string | null;
}

describe('token create, list, revoke', () => {
  it('create --json shows the secret once; list --json never shows it; revoke sets revokedAt', async () => {
    const sb = sandbox();
    const created = JSON.parse(
      (await cliOk(sb, ['token', 'create', '--scope', 'read', '--scope', 'write', '--expires', '12h', '--json']))
        .stdout,
    ) as { secret: string; token: TokenJson };
    expect(created.secret).toMatch(/^slt_[A-Za-z0-9_-]{43}$/);
    expect(created.token).toMatchObject({ kind: 'personal', scopes: ['read', 'write'], revokedAt: null });
    expect(Date.parse(created.token.expiresAt as string) - Date.parse(created.token.createdAt)).toBe(12 * 3600_000);

    const human = await cliOk(sb, ['token', 'create']);
    expect(human.stdout).toMatch(/^slt_[A-Za-z0-9_-]{43}\n/);
    expect(human.stdout).toContain('cannot be shown again');

    const listOut = (await cliOk(sb, ['token', 'list', '--json'])).stdout;
    const list = JSON.parse(listOut).tokens as TokenJson[];
    expect(list.map((t) => t.id)).toContain(created.token.id);
    expect(listOut).not.toContain(created.secret);
    expect(listOut).not.toContain('"hash"');
    expect(list.find((t) => t.id === created.token.id)).toEqual(created.token);

    const table = (await cliOk(sb, ['token', 'list'])).stdout;
    expect(table.split('\n')[0]).toMatch(/^ID\s+KIND\s+SCOPES\s+CREATED\s+EXPIRES\s+REVOKED$/);
    expect(table).toContain(created.token.id);
    expect(table).not.toContain(created.secret);

    const revoked = await cliOk(sb, ['token', 'revoke', created.token.id]);
    expect(revoked.stdout).toContain(`revoked token ${created.token.id}`);
    const after = JSON.parse((await cliOk(sb, ['token', 'list', '--json'])).stdout).tokens as TokenJson[];
    expect(after.find((t) => t.id === created.token.id)?.revokedAt).toEqual(expect.any(String));

    const unknown = await cli(sb, ['token', 'revoke', 'no-such-token']);
    expect(unknown.code).not.toBe(0);
    expect(errorLine(unknown.stderr).code).toBe('E_NOT_FOUND');
  });

  it('bad --scope and --expires are refused with E_BAD_REQUEST', async () => {
    const sb = sandbox();
    for (const args of [
      ['--scope', 'admin'],
      ['--expires', '366d'],
      ['--expires', '10m'],
      ['--expires', '0s'],
    ]) {
      const r = await cli(sb, ['token', 'create', ...args]);
      expect(r.code, r.stderr).not.toBe(0);
      expect(errorLine(r.stderr).code).toBe('E_BAD_REQUEST');
    }
  });

  it('a minted token works against `studio-lite serve` until it is revoked, then E_UNAUTHENTICATED', async () => {
    const server = sandbox();
    const port = await freePort();
    const child = startCli(server, ['serve', '--port', String(port)]);
    stops.push(() => child.kill('SIGTERM'));
    const out = collect(child);
    await waitFor(() => out.stdoutSoFar().includes('listening on'), 'serve to listen');

    // Mint through the served backend with the server's own (local admin) credentials.
    const url = `http://127.0.0.1:${port}`;
    const fromServerHome = { ...server, env: { ...server.env, STUDIOML_API_URL: url } };
    const created = JSON.parse(
      (await cliOk(fromServerHome, ['token', 'create', '--expires', '1h', '--json'])).stdout,
    ) as {
      secret: string;
      token: TokenJson;
    };

    const user = sandbox();
    user.env.STUDIOML_API_URL = url;
    user.env.STUDIOML_TOKEN = created.secret;
    const mine = JSON.parse((await cliOk(user, ['token', 'list', '--json'])).stdout).tokens as TokenJson[];
    expect(mine.map((t) => t.id)).toContain(created.token.id);
    await cliOk(user, ['experiments', '--json']);

    await cliOk(fromServerHome, ['token', 'revoke', created.token.id]);
    const refused = await cli(user, ['experiments', '--json']);
    expect(refused.code).not.toBe(0);
    expect(errorLine(refused.stderr).code).toBe('E_UNAUTHENTICATED');
  });
});
