import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkHome, checkLogin, checkNode } from '../../src/commands/doctor/doctor-checks.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'sl-doctor-'));
  dirs.push(d);
  return d;
};
const cfg = (home: string, apiUrl: string | null = null) => ({
  home,
  apiUrl,
  team: null,
  captureInterval: 60,
  materialize: 'link' as const,
  offline: 'never' as const,
});

describe('doctor checks', () => {
  it('node: fails below 20', () => {
    expect(checkNode('18.19.0').status).toBe('fail');
    expect(checkNode('20.0.0').status).toBe('ok');
  });

  it('home: a missing home is fine, a group-readable one warns, a readable token fails', () => {
    const parent = tmp();
    expect(checkHome(join(parent, 'h')).status).toBe('ok');
    const home = tmp();
    chmodSync(home, 0o700);
    expect(checkHome(home).status).toBe('ok');
    chmodSync(home, 0o755);
    expect(checkHome(home)).toMatchObject({ status: 'warn', hint: `chmod 700 ${home}` });
    writeFileSync(join(home, 'credentials.json'), '{}', { mode: 0o644 });
    chmodSync(join(home, 'credentials.json'), 0o644);
    expect(checkHome(home)).toMatchObject({ status: 'fail', hint: `chmod 600 ${join(home, 'credentials.json')}` });
  });

  it('login: a deployment without a saved login fails with the login command as hint', () => {
    const home = tmp();
    const c = checkLogin(cfg(home, 'https://api.example.test'), {});
    expect(c).toMatchObject({ status: 'fail', hint: 'run `studio-lite login https://api.example.test`' });
    expect(checkLogin(cfg(home, 'https://api.example.test'), { STUDIOML_TOKEN: 'slt_x' }).status).toBe('ok');
    expect(checkLogin(cfg(home)).status).toBe('ok');
  });
});
