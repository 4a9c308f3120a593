import { type Command, Option } from 'commander';
import { integerOption, secondsOption } from '../option-parsers.ts';
import { act, type Flags } from './action.ts';

/** Reading experiments and artifacts: experiments, show, pull, ls, diff; naming versions: alias; tensorboard. */
export function addArtifactCommands(p: Command): void {
  p.command('experiments')
    .description('list experiments')
    .option('--project <name>', 'only this project')
    .addOption(new Option('--limit <n>', 'at most N').argParser(integerOption('--limit', 1)))
    .option('--json', 'machine-readable output')
    .action(
      act(async (o: Flags) => (await import('../commands/experiments/experiments-command.ts')).experimentsCommand(o)),
    );

  p.command('show')
    .description('one experiment with every artifact and version')
    .argument('<experiment>')
    .option('--json', 'machine-readable output')
    .action(
      act(async (key: string, o: Flags) => (await import('../commands/show/show-command.ts')).showCommand(key, o)),
    );

  p.command('pull')
    .description('download an artifact version through the cache')
    .argument('<ref>', 'EXP/TAG, EXP/TAG@VERSION, EXP/TAG@ALIAS or EXP/TAG@latest')
    .option('-o, --output <dir>', 'destination folder (default ./<exp>-<tag>)')
    .option('--copy', 'copy (clone where the file system can) out of the cache: the default unless config says link')
    .option('--link', 'hard-link files out of the cache (read-only, shared with the cache; checked before reuse)')
    .option('--force', 'overwrite files in an existing folder that differ from the artifact')
    .option('--json', 'print what was pulled as JSON')
    .action(
      act(async (ref: string, o: Flags) => (await import('../commands/pull/pull-command.ts')).pullCommand(ref, o)),
    );

  p.command('ls')
    .description('the files of an artifact version (default: its latest)')
    .argument('<ref>', 'EXP/TAG, EXP/TAG@VERSION, EXP/TAG@ALIAS or EXP/TAG@latest')
    .option('--json', 'machine-readable output')
    .action(
      act(async (ref: string, o: Flags) =>
        (await import('../commands/versions/versions-command.ts')).lsCommand(ref, o),
      ),
    );

  p.command('diff')
    .description('files added, removed and changed between two versions (default: the one before)')
    .argument('<ref>', 'EXP/TAG@A (a version, alias or latest; the newer side when alone)')
    .argument('[other]', 'EXP2/TAG2@B to compare A with')
    .option('--json', 'machine-readable output')
    .action(
      act(async (a: string, b: string | undefined, o: Flags) =>
        (await import('../commands/versions/versions-command.ts')).diffCommand(a, b, o),
      ),
    );

  p.command('push')
    .description('copy experiments to another backend (embedded <-> a deployment): only missing blobs travel')
    .argument('[experiments...]', 'experiment keys (or --all, --project P, --pending)')
    .option('--all', 'every experiment of the source')
    .option('--project <name>', 'every experiment of this project')
    .option('--pending', 'the experiments `run --offline` captured for a deployment')
    .option('--from <backend>', 'local (default) or an API URL you have a login for')
    .option('--to <backend>', 'an API URL you have a login for, or local')
    .option('--team <team>', 'team on the target (default: the one remembered for it, or your only team)')
    .option('--from-team <team>', 'team on the source')
    .option('--as <key>', 'push the one named experiment under another key')
    .option('--prefix <p>', 'push every experiment under P + its key')
    .option('--with-lineage', 'also push the experiments whose versions these reused')
    .option('--dry-run', 'say what would be pushed; change nothing')
    .option('--json', 'print one JSON object')
    .action(
      act(async (keys: string[], o: Flags) => (await import('../commands/push/push-command.ts')).pushCommand(keys, o)),
    );

  p.command('alias')
    .description('name a version: set or move NAME to EXP/TAG@V, list with EXP/TAG, remove with --delete')
    .argument('<ref>', 'EXP/TAG@VERSION (also @latest or @ALIAS) to set NAME; EXP/TAG alone to list or --delete')
    .argument('[name]', 'alias: a lower-case letter, then a-z 0-9 . _ - (max 64); not latest')
    .option('--delete', 'remove alias NAME of EXP/TAG')
    .option('--json', 'machine-readable output')
    .action(
      act(async (ref: string, name: string | undefined, o: Flags) =>
        (await import('../commands/alias/alias-command.ts')).aliasCommand(ref, name, o),
      ),
    );

  p.command('tensorboard')
    .description("lay the experiments' tb artifacts into one logdir, keep it in sync and run TensorBoard on it")
    .argument('[experiments...]', 'experiment keys (and/or --project P)')
    .option('--project <name>', 'every experiment of this project, also those started later')
    .addOption(
      new Option('--port <n>', 'port TensorBoard serves on (default 6006)').argParser(
        integerOption('--port', 1, 65535),
      ),
    )
    .option('--logdir <dir>', 'folder to lay out in (default: one under $STUDIOML_HOME/tensorboard)')
    .addOption(
      new Option('--interval <seconds>', 'seconds between looks for new versions (default 5)').argParser(
        secondsOption('--interval'),
      ),
    )
    .option('--once', 'lay out once and exit (TensorBoard is not started)')
    .option('--json', 'with --once: print what was laid out as one JSON object')
    .action(
      act(async (keys: string[], o: Flags) =>
        (await import('../commands/tensorboard/tensorboard-command.ts')).tensorboardCommand(keys, o),
      ),
    );
}
