import { isStudioError } from '@studio-lite/functions/core/errors.ts';
import { Command, CommanderError, Option } from 'commander';
import { ExitError, exitCodeOf, hintFor } from './exit-error.ts';

const collect = (value: string, prev: string[]) => [...prev, value];

/** Studio spelled capture-once `-co`; commander only knows one-letter short flags. */
export function normalizeArgv(argv: string[]): string[] {
  return argv.map((a) => (a === '-co' ? '--capture-once' : a.startsWith('-co=') ? `--capture-once=${a.slice(4)}` : a));
}

function program(): Command {
  const p = new Command('studio-lite')
    .description('artifact management for machine-learning experiments')
    .version('0.1.0')
    .option('--config <file>', 'config file (default $STUDIOML_HOME/config.yaml)')
    .option('-q, --quiet', 'no progress or informational output')
    .option('--debug', 'show stack traces and debug logging')
    .enablePositionalOptions()
    .exitOverride();

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
    .addOption(new Option('--capture-interval <seconds>', 'seconds between captures (default 60)').argParser(Number))
    .option('--resume', 'continue an existing experiment instead of refusing its key')
    .option('--queue <name>', 'send the run to workers of this queue instead of running it here')
    .option('--follow', 'with --queue: stream the output and wait for the exit code')
    .option('--lifetime <duration>', 'with --queue: drop the job if no worker took it within this (e.g. 2h)')
    .option('--max-duration <duration>', 'with --queue: kill the run after this long (e.g. 48h)')
    .option('--resources <name=n,...>', 'with --queue: what the worker must offer, e.g. gpus=1', collect, [])
    .passThroughOptions()
    .action(async (script: string | undefined, args: string[], opts, cmd: Command) => {
      const { runCommand } = await import('./commands/run/run-command.ts');
      process.exitCode = await runCommand(script, args, { ...cmd.optsWithGlobals(), ...opts }, rawAfterRun());
    });

  p.command('experiments')
    .description('list experiments')
    .option('--project <name>', 'only this project')
    .option('--limit <n>', 'at most N', Number)
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
    .argument('<ref>', 'EXP/TAG or EXP/TAG@VERSION')
    .option('-o, --output <dir>', 'destination folder (default ./<exp>-<tag>)')
    .option('--copy', 'copy files out of the cache instead of hard-linking them')
    .option('--json', 'print what was pulled as JSON')
    .action(async (ref: string, opts, cmd: Command) => {
      const { pullCommand } = await import('./commands/pull/pull-command.ts');
      await pullCommand(ref, { ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('login')
    .description('use a team deployment from now on (checks the token, saves it 0600)')
    .argument('<api-url>', 'the deployment, e.g. the URL terraform printed')
    .option('--token <token>', 'personal access token (default $STUDIOML_TOKEN)')
    .option('--team <team>', 'team to check membership in')
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
    .option('--port <n>', 'port (default 8765)', Number)
    .option('--listen <host>', 'address to bind (default 127.0.0.1)')
    .action(async (opts, cmd: Command) => {
      const { serveCommand } = await import('./commands/serve/serve-command.ts');
      await serveCommand({ ...cmd.optsWithGlobals(), ...opts });
    });
  p.command('worker')
    .description('run queued jobs of a queue (pulls work; runs behind NAT)')
    .requiredOption('--queue <name>', 'queue to take jobs from')
    .addOption(new Option('--concurrency <n>', 'jobs at once (default 1)').argParser(Number))
    .option('--cache-dir <dir>', 'blob cache and job folders (default $STUDIOML_HOME)')
    .option('--resources <name=n,...>', 'what this machine offers, e.g. gpus=2', collect, [])
    .addOption(new Option('--max-jobs <n>', 'exit after N jobs').argParser(Number))
    .addOption(new Option('--idle-exit <seconds>', 'exit after this long without a job').argParser(Number))
    .option('--json', 'print a JSON summary at exit')
    .action(async (opts, cmd: Command) => {
      const { workerCommand } = await import('./commands/worker/worker-command.ts');
      process.exitCode = await workerCommand({ ...cmd.optsWithGlobals(), ...opts });
    });

  p.command('jobs')
    .description('queued runs: queue, status, attempt, worker')
    .option('--queue <name>', 'only this queue')
    .option('--status <list>', 'only these statuses, comma-separated (queued,leased,finished,...)')
    .addOption(new Option('--limit <n>', 'at most N').argParser(Number))
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
    .description("a run's captured output")
    .argument('<experiment>')
    .option('-f, --follow', "follow a queued run until it ends (exit code = the run's)")
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
    .description('your tokens: id, scopes, created, expires, revoked')
    .option('--json', 'machine-readable output')
    .action(async (opts, cmd: Command) => {
      const { tokenListCommand } = await import('./commands/token/token-command.ts');
      await tokenListCommand({ ...cmd.optsWithGlobals(), ...opts });
    });
  token
    .command('revoke')
    .description('revoke one of your tokens')
    .argument('<id>', 'token id (from token list)')
    .option('--json', 'machine-readable output')
    .action(async (id: string, opts, cmd: Command) => {
      const { tokenRevokeCommand } = await import('./commands/token/token-command.ts');
      await tokenRevokeCommand(id, { ...cmd.optsWithGlobals(), ...opts });
    });
  // Accept the global flags after the command name too (`run -q`, `show --debug`).
  for (const c of [...p.commands, ...token.commands]) {
    c.option('-q, --quiet', 'no progress or informational output').option(
      '--debug',
      'show stack traces and debug logging',
    );
    c.option('--config <file>', 'config file (default $STUDIOML_HOME/config.yaml)');
  }
  return p;
}

/** The raw words after `run`, so `run -- CMD` can be told from `run SCRIPT.py`. */
function rawAfterRun(): string[] {
  const argv = normalizeArgv(process.argv.slice(2));
  const i = argv.indexOf('run');
  return i === -1 ? [] : argv.slice(i + 1);
}

export async function main(argv: string[]): Promise<void> {
  const debug = argv.includes('--debug');
  try {
    await program().parseAsync(normalizeArgv(argv), { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode === 0 ? 0 : 2;
      return;
    }
    const code = exitCodeOf(err);
    const errorCode = isStudioError(err) ? err.code : err instanceof ExitError ? err.errorCode : null;
    const msg = err instanceof Error ? err.message : String(err);
    process.stderr.write(`studio-lite: ${errorCode ? `${errorCode}: ` : ''}${msg}\n`);
    const hint = hintFor(errorCode);
    if (hint) process.stderr.write(`  hint: ${hint}\n`);
    if (debug && err instanceof Error && err.stack) process.stderr.write(`${err.stack}\n`);
    else if (!isStudioError(err) && !(err instanceof ExitError)) {
      process.stderr.write('  (unexpected error; rerun with --debug for details)\n');
    }
    process.exitCode = code;
  }
}

await main(process.argv.slice(2));
