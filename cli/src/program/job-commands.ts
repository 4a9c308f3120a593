import { type Command, Option } from 'commander';
import { integerOption, secondsOption } from '../option-parsers.ts';
import { act, actWithExit, type Flags } from './action.ts';
import { collect } from './argv.ts';

/** Queued runs: worker, jobs, stop, kill, logs. */
export function addJobCommands(p: Command): void {
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
    .action(actWithExit(async (o: Flags) => (await import('../commands/worker/worker-command.ts')).workerCommand(o)));

  p.command('jobs')
    .description('queued runs: queue, status, attempt, worker')
    .option('--queue <name>', 'only this queue')
    .option('--status <list>', 'only these statuses, comma-separated (queued,leased,finished,...)')
    .addOption(new Option('--limit <n>', 'at most N').argParser(integerOption('--limit', 1)))
    .option('--json', 'machine-readable output')
    .action(act(async (o: Flags) => (await import('../commands/jobs/jobs-command.ts')).jobsCommand(o)));

  for (const mode of ['stop', 'kill'] as const) {
    p.command(mode)
      .description(mode === 'stop' ? 'stop a queued run (SIGTERM, then final capture)' : 'kill a queued run (SIGKILL)')
      .argument('<experiment>')
      .option('--json', 'machine-readable output')
      .action(
        act(async (key: string, o: Flags) =>
          (await import('../commands/jobs/jobs-command.ts')).stopCommand(key, mode, o),
        ),
      );
  }

  p.command('logs')
    .description("a run's output: live for runs started here, else the latest capture")
    .argument('<experiment>')
    .option('-f, --follow', "follow the run until it ends (exit code = the run's)")
    .action(
      actWithExit(async (key: string, o: Flags) =>
        (await import('../commands/jobs/jobs-command.ts')).logsCommand(key, o),
      ),
    );
}
