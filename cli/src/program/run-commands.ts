import { type Command, Option } from 'commander';
import { secondsOption } from '../option-parsers.ts';
import { actWithExit, type Flags } from './action.ts';
import { collect, rawAfterRun } from './argv.ts';

/** `run`: a script here, or with --queue on a worker. */
export function addRunCommand(p: Command): void {
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
    .option('--offline', 'capture into the embedded backend here, for `push --pending` to the deployment later')
    .option('--json', "print the end-of-run summary as one JSON object on stdout (the script's output goes to stderr)")
    .passThroughOptions()
    .action(
      actWithExit(async (script: string | undefined, args: string[], o: Flags) =>
        (await import('../commands/run/run-command.ts')).runCommand(script, args, o, rawAfterRun()),
      ),
    );
}
