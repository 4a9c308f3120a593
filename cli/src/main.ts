import { studioHome } from '@studio-lite/functions/adapters/local/local-home.ts';
import { isStudioError, noSpace } from '@studio-lite/functions/contract/errors';
import { Command, CommanderError, Option } from 'commander';
import { ExitError, exitCodeOf, hintFor, hintFromDetails, hintOf } from './exit-error.ts';
import { integerOption, secondsOption } from './option-parsers.ts';
import { packageVersion } from './package-root.ts';
import { sanitize } from './sanitize.ts';

const collect = (value: string, prev: string[]) => [...prev, value];

/** Studio spelled capture-once `-co`; commander only knows one-letter short flags. */
export function normalizeArgv(argv: string[]): string[] {
  return argv.map((a) => (a === '-co' ? '--capture-once' : a.startsWith('-co=') ? `--capture-once=${a.slice(4)}` : a));
}

function program(): Command {
  const p = new Command('studio-lite')
    .description('artifact management for machine-learning experiments')
    .version(packageVersion())
    .option('--config <file>', 'config file (default $STUDIOML_HOME/config.yaml)')
    .option('-q, --quiet', 'no progress or informational output')
    .option('--debug', 'show stack traces and debug logging')
    .enablePositionalOptions()
    .exitOverride()
    // Commander's own errors are printed by main() in the CLI's format; help and --version still go to stdout.
    .configureOutput({ outputError: () => {} });

  p.command('run')
    .description('run SCRIPT.py (python3) or -- CMD, capturing its artifacts')
    .argument('[script]', 'python script, or the command after --')
    .argument('[args...]', 'arguments for the script')
    .option(
      '-c, --capture <path:tag>',
      'mutable artifact, captured every interval and at exit (repeatable)',
      collect,
      [],
    )
    .option(
      '--capture-once <path:tag>',
      'immutable artifact captured once at start (also -co; repeatable)',
      collect,
      [],
    )
    .option('-r, --reuse <exp/tag[@v]:newtag>', "another experiment's artifact, read-only (repeatable)", collect, [])
    .option('-e, --experiment <key>', 'experiment key (default: time stamp + random id)')
    .option('--project <name>', 'project name')
    .addOption(
      new Option('--capture-interval <seconds>', 'seconds between captures (default 60)').argParser(
        secondsOption('--capture-interval'),
      ),
    )
    .option('--resume', 'continue an existing experiment instead of refusing its key')
    .option('--queue <name>', 'send the run to workers of this queue instead of running it here')
    .option('--follow', 'with --queue: stream the output and wait for the exit code')
    .option('--lifetime <duration>', 'with --queue: drop the job if no worker took it within this (e.g. 2h)')
    .option('--max-duration <duration>', 'with --queue: kill the run after this long (e.g. 48h)')
    .option('--resources <name=n,...>', 'with --queue: what the worker must offer, e.g. gpus=1', collect, [])
    .option('--json', "print the end-of-run summary as one JSON object on stdout (the script's output goes to stderr)")
    .passThroughOptions()
    .action(async (script: string | undefined, args: string[], opts, cmd: Command) => {
      const { runCommand } = await import('./commands/run/run-command.ts');
      process.exitCode = await runCommand(script, args, { ...cmd.optsWithGlobals(), ...opts }, rawAfterRun());
    });

  p.command('experiments')
    .description('list experiments')
    .option('--project <name>', 'only this project')
    .addOption(new Option('--limit <n>', 'at most N').argParser(integerOption('--limit', 1)))
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const { experimentsCommand } = await import('./commands/experiments/experiments-command.ts');
      await experimentsCommand({ ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('show')
    .description('one experiment with every artifact and version')
    .argument('<experiment>')
    .option('--json', 'machine-readable output')
    .action(async (key: string, opts, cmd: Command) => {
      const { showCommand } = await import('./commands/show/show-command.ts');
      await showCommand(key, { ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('pull')
    .description('download an artifact version through the cache')
    .argument('<ref>', 'EXP/TAG, EXP/TAG@VERSION, EXP/TAG@ALIAS or EXP/TAG@latest')
    .option('-o, --output <dir>', 'destination folder (default ./<exp>-<tag>)')
    .option('--copy', 'copy (clone where the file system can) out of the cache: the default unless config says link')
    .option('--link', 'hard-link files out of the cache (read-only, shared with the cache; checked before reuse)')
    .option('--force', 'overwrite files in an existing folder that differ from the artifact')
    .option('--json', 'print what was pulled as JSON')
    .action(async (ref: string, opts, cmd: Command) => {
      const { pullCommand } = await import('./commands/pull/pull-command.ts');
      await pullCommand(ref, { ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('ls')
    .description('the files of an artifact version (default: its latest)')
    .argument('<ref>', 'EXP/TAG, EXP/TAG@VERSION, EXP/TAG@ALIAS or EXP/TAG@latest')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, opts, cmd: Command) => {
      const { lsCommand } = await import('./commands/versions/versions-command.ts');
      await lsCommand(ref, { ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('diff')
    .description('files added, removed and changed between two versions (default: the one before)')
    .argument('<ref>', 'EXP/TAG@A (a version, alias or latest; the newer side when alone)')
    .argument('[other]', 'EXP2/TAG2@B to compare A with')
    .option('--json', 'machine-readable output')
    .action(async (a: string, b: string | undefined, opts, cmd: Command) => {
      const { diffCommand } = await import('./commands/versions/versions-command.ts');
      await diffCommand(a, b, { ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('alias')
    .description('name a version: set or move NAME to EXP/TAG@V, list with EXP/TAG, remove with --delete')
    .argument('<ref>', 'EXP/TAG@VERSION (also @latest or @ALIAS) to set NAME; EXP/TAG alone to list or --delete')
    .argument('[name]', 'alias: a lower-case letter, then a-z 0-9 . _ - (max 64); not latest')
    .option('--delete', 'remove alias NAME of EXP/TAG')
    .option('--json', 'machine-readable output')
    .action(async (ref: string, name: string | undefined, opts, cmd: Command) => {
      const { aliasCommand } = await import('./commands/alias/alias-command.ts');
      await aliasCommand(ref, name, { ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('login')
    .description('use a team deployment from now on: sign in with Google, or check a --token (saved 0600)')
    .argument('<api-url>', 'the deployment, e.g. the URL terraform printed')
    .option(
      '--with-token',
      'read a personal access token from standard input (or a hidden prompt) instead of signing in',
    )
    .option('--token <token>', 'deprecated (visible in ps and shell history): use --with-token or $STUDIOML_TOKEN')
    .option('--team <team>', 'team to check membership in')
    .option('--no-browser', 'print the sign-in address and read the redirected address (or code) from stdin')
    .option('--browser-command <cmd>', 'command that opens the sign-in address (default $BROWSER or the system opener)')
    .action(async (url: string, opts, cmd: Command) => {
      const { loginCommand } = await import('./commands/login/login-command.ts');
      await loginCommand(url, { ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('logout')
    .description('forget the deployment login and use the embedded backend again')
    .action(async (_opts, cmd: Command) => {
      const { logoutCommand } = await import('./commands/login/login-command.ts');
      await logoutCommand(cmd.optsWithGlobals());
    });

  p.command('serve')
    .description('run the local backend as a server for several processes or users on this machine')
    .addOption(
      new Option('--port <n>', 'port (default 8765; 0 = any free port)').argParser(integerOption('--port', 0, 65535)),
    )
    .option('--listen <host>', 'address to bind (default 127.0.0.1; e.g. 0.0.0.0 for a shared box)')
    .option('--public-url <url>', 'where clients reach this box, for signed URLs (default: the bound address)')
    .action(async (opts, cmd: Command) => {
      const { serveCommand } = await import('./commands/serve/serve-command.ts');
      await serveCommand({ ...cmd.optsWithGlobals(), ...opts });
    });
  p.command('ui')
    .description('open the web UI: prints a one-time sign-in URL and starts the local server if none runs')
    .option('--port <n>', 'port of the local server it starts (default 8765)', Number)
    .option('--no-open', 'print the URL without opening a browser')
    .option('--browser-command <cmd>', 'command that opens the URL (default: $BROWSER or the system opener)')
    .action(async (opts, cmd: Command) => {
      const { uiCommand } = await import('./commands/ui/ui-command.ts');
      await uiCommand({ ...cmd.optsWithGlobals(), ...opts });
    });
  p.command('worker')
    .description('run queued jobs of a queue (pulls work; runs behind NAT)')
    .requiredOption('--queue <name>', 'queue to take jobs from')
    .addOption(new Option('--concurrency <n>', 'jobs at once (default 1)').argParser(integerOption('--concurrency', 1)))
    .option('--cache-dir <dir>', 'blob cache and job folders (default $STUDIOML_HOME)')
    .option(
      '--run-as <user>',
      "run each job's script as this Unix user, who cannot read the worker's token (worker as root)",
    )
    .option('--resources <name=n,...>', 'what this machine offers, e.g. gpus=2', collect, [])
    .addOption(new Option('--max-jobs <n>', 'exit after N jobs').argParser(integerOption('--max-jobs', 1)))
    .addOption(
      new Option('--idle-exit <seconds>', 'exit after this long without a job').argParser(
        secondsOption('--idle-exit', true),
      ),
    )
    .option('--json', 'print a JSON summary at exit')
    .action(async (opts, cmd: Command) => {
      const { workerCommand } = await import('./commands/worker/worker-command.ts');
      process.exitCode = await workerCommand({ ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('jobs')
    .description('queued runs: queue, status, attempt, worker')
    .option('--queue <name>', 'only this queue')
    .option('--status <list>', 'only these statuses, comma-separated (queued,leased,finished,...)')
    .addOption(new Option('--limit <n>', 'at most N').argParser(integerOption('--limit', 1)))
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const { jobsCommand } = await import('./commands/jobs/jobs-command.ts');
      await jobsCommand({ ...cmd.optsWithGlobals(), ...opts });
    });

  for (const mode of ['stop', 'kill'] as const) {
    p.command(mode)
      .description(mode === 'stop' ? 'stop a queued run (SIGTERM, then final capture)' : 'kill a queued run (SIGKILL)')
      .argument('<experiment>')
      .option('--json', 'machine-readable output')
      .action(async (key: string, opts, cmd: Command) => {
        const { stopCommand } = await import('./commands/jobs/jobs-command.ts');
        await stopCommand(key, mode, { ...cmd.optsWithGlobals(), ...opts });
      });
  }

  p.command('logs')
    .description("a run's output: live for runs started here, else the latest capture")
    .argument('<experiment>')
    .option('-f, --follow', "follow the run until it ends (exit code = the run's)")
    .action(async (key: string, opts, cmd: Command) => {
      const { logsCommand } = await import('./commands/jobs/jobs-command.ts');
      process.exitCode = await logsCommand(key, { ...cmd.optsWithGlobals(), ...opts });
    });

  const token = p.command('token').description('personal access tokens: create, list, revoke');
  token
    .command('create')
    .description('mint a personal access token (the secret is shown once)')
    .option('--scope <scope>', 'scope: *, read or write (repeatable; default *)', collect, [])
    .option('--expires <duration>', 'lifetime: Nd, Nh or Ns (default 90d, at most 365d)')
    .option('--worker', 'a worker token (team admins): leases jobs of --queue only')
    .option('--queue <name>', 'with --worker: the queue it may serve')
    .option('--label <text>', 'with --worker: shown by token list')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const { tokenCreateCommand } = await import('./commands/token/token-command.ts');
      await tokenCreateCommand({ ...cmd.optsWithGlobals(), ...opts });
    });
  token
    .command('list')
    .description('your tokens (with --team: every worker and job token of that team, for its admins)')
    .option('--team <team>', "list the team's worker and job tokens, whoever minted them (team admins)")
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const { tokenListCommand } = await import('./commands/token/token-command.ts');
      await tokenListCommand({ ...cmd.optsWithGlobals(), ...opts });
    });
  token
    .command('revoke')
    .description('revoke one of your tokens, or (team admins) a worker or job token of the team')
    .argument('<id>', 'token id (from token list)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts, cmd: Command) => {
      const { tokenRevokeCommand } = await import('./commands/token/token-command.ts');
      await tokenRevokeCommand(id, { ...cmd.optsWithGlobals(), ...opts });
    });
  const team = p.command('team').description('teams: create, add/remove members, list (roles viewer < editor < admin)');
  team
    .command('create')
    .description('create a team; you become its admin')
    .argument('<id>', 'team id: letters, digits, . _ - (max 128)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts, cmd: Command) => {
      const { teamCreateCommand } = await import('./commands/team/team-command.ts');
      await teamCreateCommand(id, { ...cmd.optsWithGlobals(), ...opts });
    });
  team
    .command('add')
    .description('add a member or change their role (team admins); they must have signed in once / been created')
    .argument('<team>')
    .argument('<user>', 'user id or email')
    .option('--role <role>', 'viewer, editor or admin (default viewer)')
    .option('--json', 'machine-readable output')
    .action(async (t: string, user: string, opts, cmd: Command) => {
      const { teamAddCommand } = await import('./commands/team/team-command.ts');
      await teamAddCommand(t, user, { ...cmd.optsWithGlobals(), ...opts });
    });
  team
    .command('remove')
    .description('remove a member (team admins), or leave a team yourself')
    .argument('<team>')
    .argument('<user>', 'user id or email')
    .option('--json', 'machine-readable output')
    .action(async (t: string, user: string, opts, cmd: Command) => {
      const { teamRemoveCommand } = await import('./commands/team/team-command.ts');
      await teamRemoveCommand(t, user, { ...cmd.optsWithGlobals(), ...opts });
    });
  team
    .command('use')
    .description('act in this team from now on when none is named (remembered per backend in $STUDIOML_HOME/team.json)')
    .argument('<team>')
    .option('--json', 'machine-readable output')
    .action(async (t: string, opts, cmd: Command) => {
      const { teamUseCommand } = await import('./commands/team/team-use-command.ts');
      await teamUseCommand(t, { ...cmd.optsWithGlobals(), ...opts });
    });
  team
    .command('list')
    .description('your teams and your role in each')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const { teamListCommand } = await import('./commands/team/team-command.ts');
      await teamListCommand({ ...cmd.optsWithGlobals(), ...opts });
    });
  team
    .command('members')
    .description("a team's members and roles (any member)")
    .argument('<team>')
    .option('--json', 'machine-readable output')
    .action(async (t: string, opts, cmd: Command) => {
      const { teamMembersCommand } = await import('./commands/team/team-command.ts');
      await teamMembersCommand(t, { ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('audit')
    .description("the team's audit log, newest first (team admins)")
    .addOption(
      new Option('--limit <n>', 'at most N entries (default 100, at most 1000)').argParser(
        integerOption('--limit', 1, 1000),
      ),
    )
    .option('--action <action>', 'only this action, e.g. member.add, token.create, download.sign')
    .option('--before <id-or-time>', 'only entries before this entry id (next page) or ISO time')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const { auditCommand } = await import('./commands/audit/audit-command.ts');
      await auditCommand({ ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('delete')
    .description('delete an experiment with its artifacts and versions (team admins, or editors who own it)')
    .argument('<experiment>')
    .option('--force', 'also when it is running or queued')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'machine-readable output')
    .action(async (key: string, opts, cmd: Command) => {
      const { deleteCommand } = await import('./commands/delete/delete-command.ts');
      await deleteCommand(key, { ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('gc')
    .description(
      'free the storage of blobs no version references (team admins): condemns them now, deletes them in a run after the grace',
    )
    .option(
      '--grace <duration>',
      'how long an unreferenced blob stays condemned before a run deletes it (default 24h, at least 1h)',
    )
    .option('--dry-run', 'only count what a run would condemn and delete')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const { gcCommand } = await import('./commands/gc/gc-command.ts');
      await gcCommand({ ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('doctor')
    .description('check this machine: node, python3 + the studio package, the home folder, backend and login (offline)')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const { doctorCommand } = await import('./commands/doctor/doctor-command.ts');
      await doctorCommand({ ...cmd.optsWithGlobals(), ...opts });
    });

  const cache = p.command('cache').description('local caches in $STUDIOML_HOME: info, prune (no backend)');
  cache
    .command('info')
    .description('what the blob cache and the stat cache hold (and blobs changed or quarantined since verified)')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const { cacheInfoCommand } = await import('./commands/cache/cache-command.ts');
      await cacheInfoCommand({ ...cmd.optsWithGlobals(), ...opts });
    });
  cache
    .command('prune')
    .description(
      'forget hashes of deleted files, remove temp files over an hour old, re-verify changed blobs (quarantining tampered ones), and with --max-size evict oldest blobs',
    )
    .option('--max-size <size>', 'evict blobs until the blob cache holds at most this, e.g. 10G, 500M, 0')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const { cachePruneCommand } = await import('./commands/cache/cache-command.ts');
      await cachePruneCommand({ ...cmd.optsWithGlobals(), ...opts });
    });

  const user = p.command('user').description('users of a shared box (embedded backend only)');
  user
    .command('add')
    .description('create a user on this box and print their first token (not against a deployment)')
    .argument('<id>', 'user id: letters, digits, . _ - (max 128)')
    .option('--email <email>', 'their email (team add accepts it instead of the id)')
    .option('--name <name>', 'display name (default: the id)')
    .option('--team <team>', 'also add them to this team (you must be its admin)')
    .option('--role <role>', 'with --team: viewer, editor or admin (default viewer)')
    .option('--expires <duration>', 'token lifetime: Nd, Nh or Ns (default 90d, at most 365d)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts, cmd: Command) => {
      const { userAddCommand } = await import('./commands/user/user-command.ts');
      await userAddCommand(id, { ...cmd.optsWithGlobals(), ...opts });
    });
  user
    .command('list')
    .description("this box's users: email, teams and roles, live tokens")
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const { userListCommand } = await import('./commands/user/user-command.ts');
      await userListCommand({ ...cmd.optsWithGlobals(), ...opts });
    });
  user
    .command('remove')
    .description('offboard a user of this box: out of every team, every token they hold revoked (audited)')
    .argument('<id>', 'user id')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts, cmd: Command) => {
      const { userRemoveCommand } = await import('./commands/user/user-command.ts');
      await userRemoveCommand(id, { ...cmd.optsWithGlobals(), ...opts });
    });
  // Accept the global flags after the command name too (`run -q`, `show --debug`).
  for (const c of [...p.commands, ...token.commands, ...team.commands, ...user.commands, ...cache.commands]) {
    c.option('-q, --quiet', 'no progress or informational output').option(
      '--debug',
      'show stack traces and debug logging',
    );
    c.option('--config <file>', 'config file (default $STUDIOML_HOME/config.yaml)');
  }
  // The team to act in, for someone in several: --team (before or after the command) > STUDIOML_TEAM > config team.
  // Passed on through the environment so that every command, including those that read the config themselves, and
  // only those, see it. Commands naming their team explicitly (team, user add, login) keep their own meaning.
  const teamHelp = 'team to act in (default $STUDIOML_TEAM, config `team`, or your only team)';
  p.option('--team <team>', teamHelp);
  for (const c of p.commands) {
    if (!NO_TEAM_OPTION.has(c.name()) && !c.options.some((o) => o.long === '--team'))
      c.option('--team <team>', teamHelp);
  }
  p.hook('preAction', (_root, action) => {
    const o = action.optsWithGlobals();
    const t = o.team;
    if (typeof t === 'string' && t !== '') {
      process.env.STUDIOML_TEAM = t;
      // A team-scoped command that succeeds with --team makes that team the default for this backend (main()).
      const top = action.parent === p ? action.name() : action.parent?.name();
      if (top && !NO_TEAM_OPTION.has(top)) usedTeam = { team: t, config: o.config };
    }
  });
  return p;
}

/** The --team a team-scoped command was given, remembered once the command succeeded. */
let usedTeam: { team: string; config: string | undefined } | null = null;

/** Commands that are not about one team (or take a team argument of their own). */
const NO_TEAM_OPTION = new Set(['login', 'logout', 'serve', 'ui', 'token', 'team', 'user', 'cache', 'doctor']);

/** The raw words after `run`, so `run -- CMD` can be told from `run SCRIPT.py`. */
function rawAfterRun(): string[] {
  const argv = normalizeArgv(process.argv.slice(2));
  const i = argv.indexOf('run');
  return i === -1 ? [] : argv.slice(i + 1);
}

/** Bad input without a hint of its own: the command's help lists what it accepts. */
const INPUT_CODES = new Set<string>(['E_BAD_REQUEST', 'E_BAD_KEY', 'E_BAD_TAG', 'E_BAD_PATH']);

/** `studio-lite CMD [SUB] --help` for the command the user typed (its flags are what they got wrong). */
function helpCommandFor(argv: string[]): string {
  const p = program();
  const words: string[] = [];
  let cmds = p.commands;
  for (const w of argv) {
    if (w === '--') break;
    const c = cmds.find((x) => x.name() === w || x.aliases().includes(w));
    if (!c) continue;
    words.push(c.name());
    cmds = c.commands;
    if (cmds.length === 0) break;
  }
  return ['studio-lite', ...words, '--help'].join(' ');
}

export async function main(argv: string[]): Promise<void> {
  const debug = argv.includes('--debug');
  try {
    await program().parseAsync(normalizeArgv(argv), { from: 'user' });
    if (usedTeam && !process.exitCode) {
      const [{ loadConfig }, { rememberTeam }] = await Promise.all([import('./config.ts'), import('./team-memory.ts')]);
      const cfg = loadConfig(usedTeam.config);
      rememberTeam(cfg.home, cfg.apiUrl, usedTeam.team);
    }
  } catch (thrown) {
    if (thrown instanceof CommanderError) {
      if (thrown.exitCode === 0) return;
      // `error: unknown option '--x'\n(Did you mean --y?)` -> one line in the CLI's format, exit 2 (bad input).
      const msg = thrown.message.replace(/^error: /, '').replace(/\n\(Did you mean (.+)\?\)/, ' (did you mean $1?)');
      process.stderr.write(`studio-lite: E_BAD_REQUEST: ${msg}\n  hint: see \`${helpCommandFor(argv)}\`\n`);
      process.exitCode = 2;
      return;
    }
    // A full disk on this side (stat cache, output file) reads like one on the server's.
    const err = noSpace(thrown, studioHome(), null);
    const code = exitCodeOf(err);
    const errorCode = isStudioError(err) ? err.code : err instanceof ExitError ? err.errorCode : null;
    const msg = err instanceof Error ? err.message : String(err);
    // Server messages may quote record text: sanitized like everything else printed from a record.
    process.stderr.write(`studio-lite: ${errorCode ? `${errorCode}: ` : ''}${sanitize(msg)}\n`);
    const hint =
      hintOf(err) ??
      hintFromDetails(err) ??
      hintFor(errorCode) ??
      (errorCode && INPUT_CODES.has(errorCode) ? `see \`${helpCommandFor(argv)}\`` : undefined);
    if (hint) process.stderr.write(`  hint: ${hint}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    else if (!isStudioError(err) && !(err instanceof ExitError)) {
      process.stderr.write('  (unexpected error; rerun with --debug for details)\n');
    }
    process.exitCode = code;
  }
}

await main(process.argv.slice(2));
