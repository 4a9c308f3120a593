// One output contract: every error is `studio-lite: E_CODE: message` + a hint that fits, exit 2 for bad input
// (unknown options and teams included), strict numbers, @latest, unknown config keys warned once, teams remembered.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { BIN, cli, cliOk, errorLine, experimentsJson, useSandboxes } from './helpers.ts';

const sandbox = useSandboxes();

/** stderr's hint line (the one after the error). */
const hint = (stderr: string) => /\n {2}hint: (.+)\n/.exec(stderr)?.[1];

describe('errors', () => {
  it.each([
    [['run', '--nosuch', 'x.py'], "unknown option '--nosuch'", 'see `studio-lite run --help`'],
    [['experimnts'], "unknown command 'experimnts' (did you mean experiments?)", 'see `studio-lite --help`'],
    [['team', 'lsit'], "unknown command 'lsit' (did you mean list?)", 'see `studio-lite team --help`'],
    [
      ['experiments', '--limit', 'abc'],
      'invalid --limit "abc": expected a whole number >= 1',
      'see `studio-lite experiments --help`',
    ],
    [
      ['experiments', '--limit', '0'],
      'invalid --limit "0": expected a whole number >= 1',
      'see `studio-lite experiments --help`',
    ],
    [['jobs', '--limit', '2x'], 'invalid --limit "2x": expected a whole number >= 1', 'see `studio-lite jobs --help`'],
    [
      ['serve', '--port', '70000'],
      'invalid --port "70000": expected a whole number 0-65535',
      'see `studio-lite serve --help`',
    ],
    [
      ['run', '--reuse=exp2:weights', 'x.py'],
      'invalid --reuse "exp2:weights": expected EXP/TAG[@VERSION|@ALIAS|@latest]:NEWTAG, e.g. lr/weights@2:w or lr/weights@best:w',
      'see `studio-lite run --help`',
    ],
    [
      ['gc', '--grace', '0'],
      '--grace 0 would delete blobs a capture in flight still needs: use at least 1h (e.g. --grace 1h)',
      'see `studio-lite gc --help`',
    ],
    [
      ['experiments', '--team', 'nosuch'],
      'not a member of team nosuch',
      'your teams: `studio-lite team list`; switch for good with `studio-lite team use TEAM`',
    ],
  ])('%j: exit 2, one error line, a hint that fits', async (args, message, h) => {
    const sb = sandbox();
    const r = await cli(sb, args);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr).message).toBe(message);
    expect(hint(r.stderr)).toBe(h);
    expect(r.stderr).not.toContain('error:');
    // The home's private folders may exist; no experiment may.
    const exps = join(sb.home, 'experiments');
    expect(existsSync(exps) ? readdirSync(exps) : []).toEqual([]);
  });

  it('serve on a busy port says so and how to fix it (not "check the api_url")', async () => {
    const sb = sandbox();
    const busy: Server = createServer();
    await new Promise<void>((r) => busy.listen(0, '127.0.0.1', r));
    const port = (busy.address() as { port: number }).port;
    try {
      const r = await cli(sb, ['serve', '--port', String(port)]);
      expect(r.code).toBe(1);
      expect(errorLine(r.stderr)).toEqual({
        code: 'E_UNAVAILABLE',
        message: `cannot listen on 127.0.0.1:${port}: the port is in use`,
      });
      expect(hint(r.stderr)).toBe('another program (or studio-lite serve) has it: choose a free one with --port N');
    } finally {
      busy.close();
    }
  });

  it('"n" at delete\'s prompt: exit 0, cancelled, nothing deleted', async () => {
    const sb = sandbox();
    await cliOk(sb, ['run', '-q', '-e', 'keep', '--', 'true']);
    // `script` gives the CLI a terminal, as a person at a shell would have.
    const out = execFileSync('script', ['-qec', `${process.execPath} ${BIN} delete keep`, '/dev/null'], {
      cwd: sb.cwd,
      env: sb.env,
      encoding: 'utf8',
      input: 'n\n',
    });
    expect(out).toContain('cancelled: nothing deleted');
    expect((await experimentsJson(sb)).map((e) => e.key)).toEqual(['keep']);
  });
});

describe('inputs', () => {
  it('@latest is accepted by pull and --reuse', async () => {
    const sb = sandbox();
    writeFileSync(join(sb.cwd, 'w.txt'), 'w');
    await cliOk(sb, ['run', '-q', '-e', 'src', '--capture-once', 'w.txt:weights', '--', 'true']);
    const pulled = join(sb.tmp(), 'p');
    await cliOk(sb, ['pull', 'src/weights@latest', '-o', pulled]);
    expect(readFileSync(join(pulled, 'w.txt'), 'utf8')).toBe('w');
    const r = await cliOk(sb, ['run', '--json', '-e', 'use', '--reuse=src/weights@latest:w', '--', 'true']);
    expect(JSON.parse(r.stdout).reused).toEqual([{ as: 'w', experiment: 'src', tag: 'weights', version: 1 }]);
  });

  it('an unknown config key is warned about once per command', async () => {
    const sb = sandbox();
    writeFileSync(join(sb.home, 'config.yaml'), 'capture_intervall: 5\n');
    const r = await cliOk(sb, ['run', '-e', 'x', '--', 'true']);
    const warnings = r.stderr.split('\n').filter((l) => l.includes('unknown key'));
    expect(warnings).toEqual([
      `warning: config ${join(sb.home, 'config.yaml')}: unknown key "capture_intervall" ignored (known: api_url, team, capture_interval, materialize, offline)`,
    ]);
  });
});

describe('teams that do not get in the way', () => {
  it('team create keeps commands working; --team is remembered; without memory the error says how to choose', async () => {
    const sb = sandbox();
    await cliOk(sb, ['run', '-q', '-e', 'in-local', '--', 'true']);
    await cliOk(sb, ['team', 'create', 'lab']);
    // The only team you created is the default now: no "several teams" error.
    await cliOk(sb, ['run', '-q', '-e', 'in-lab', '--', 'true']);
    expect((await experimentsJson(sb)).map((e) => e.key)).toEqual(['in-lab']);
    // The team used last (with --team) is remembered for this backend.
    await cliOk(sb, ['experiments', '--team', 'local']);
    expect((await experimentsJson(sb)).map((e) => e.key)).toEqual(['in-local']);
    await cliOk(sb, ['team', 'use', 'lab']);
    expect((await experimentsJson(sb)).map((e) => e.key)).toEqual(['in-lab']);
    const notMine = await cli(sb, ['team', 'use', 'nosuch']);
    expect(notMine.code).toBe(2);
    expect(hint(notMine.stderr)).toBe('your teams: lab, local');

    rmSync(join(sb.home, 'team.json'));
    const r = await cli(sb, ['experiments']);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr).message).toBe('you are in several teams (lab, local): choose one with --team');
    expect(hint(r.stderr)).toBe(
      'choose once: `studio-lite team use TEAM` (remembered for this backend) or `team: TEAM` in config.yaml; --team TEAM for one command',
    );
  });
});
