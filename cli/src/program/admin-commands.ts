import { type Command, Option } from 'commander';
import { integerOption } from '../option-parsers.ts';
import { act, type Flags } from './action.ts';

/** Housekeeping: delete, gc, doctor, cache, user. */
export function addAdminCommands(p: Command): void {
  p.command('delete')
    .description('delete an experiment with its artifacts and versions (team admins, or editors who own it)')
    .argument('<experiment>')
    .option('--force', 'also when it is running or queued')
    .option('-y, --yes', 'do not ask for confirmation')
    .option('--json', 'machine-readable output')
    .action(
      act(async (key: string, o: Flags) =>
        (await import('../commands/delete/delete-command.ts')).deleteCommand(key, o),
      ),
    );

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
    .action(act(async (o: Flags) => (await import('../commands/gc/gc-command.ts')).gcCommand(o)));

  const retention = p
    .command('retention')
    .description('retention policies: keep the last N versions, expire old experiments (show, set, clear, apply)');
  const load = async () => import('../commands/retention/retention-command.ts');
  retention
    .command('show')
    .description("the team's policy and its projects' policies")
    .option('--project <name>', "only this project's policy (and the team's)")
    .option('--json', 'machine-readable output')
    .action(act(async (o: Flags) => (await load()).retentionShowCommand(o)));
  retention
    .command('set')
    .description('set the policy of the team or of one project (team admins); --dry-run shows what it would delete')
    .option('--project <name>', "this project's policy (replaces the team's for its experiments)")
    .addOption(
      new Option('--keep-last <n>', 'keep the N newest versions of each mutable artifact').argParser(
        integerOption('--keep-last', 1),
      ),
    )
    .addOption(
      new Option('--keep-every <k>', 'also keep every version whose number is a multiple of K').argParser(
        integerOption('--keep-every', 2),
      ),
    )
    .option('--keep-within <duration>', 'also keep every version younger than this (e.g. 24h, 7d)')
    .addOption(
      new Option(
        '--keep-hourly <n>',
        'also keep the newest version of each of the last N hours that have one',
      ).argParser(integerOption('--keep-hourly', 1)),
    )
    .addOption(
      new Option('--keep-daily <n>', 'also keep the newest version of each of the last N days that have one').argParser(
        integerOption('--keep-daily', 1),
      ),
    )
    .option('--expire <duration>', 'delete experiments that ended longer ago than this (e.g. 30d)')
    .option('--dry-run', 'save nothing: show what this policy would delete now')
    .option('--json', 'machine-readable output')
    .action(act(async (o: Flags) => (await load()).retentionSetCommand(o)));
  retention
    .command('clear')
    .description('remove the policy of the team or of one project (team admins)')
    .option('--project <name>', "this project's policy")
    .option('--json', 'machine-readable output')
    .action(act(async (o: Flags) => (await load()).retentionClearCommand(o)));
  retention
    .command('apply')
    .description('apply the policies now (team admins); their blobs are then freed by gc')
    .option('--project <name>', 'only the experiments of this project')
    .option('--dry-run', 'delete nothing: show what would go and what is protected')
    .option('--json', 'machine-readable output')
    .action(act(async (o: Flags) => (await load()).retentionApplyCommand(o)));

  p.command('doctor')
    .description('check this machine: node, python3 + the studio package, the home folder, backend and login (offline)')
    .option('--json', 'machine-readable output')
    .action(act(async (o: Flags) => (await import('../commands/doctor/doctor-command.ts')).doctorCommand(o)));

  const cache = p.command('cache').description('local caches in $STUDIOML_HOME: info, prune (no backend)');
  cache
    .command('info')
    .description('what the blob cache and the stat cache hold (and blobs changed or quarantined since verified)')
    .option('--json', 'machine-readable output')
    .action(act(async (o: Flags) => (await import('../commands/cache/cache-command.ts')).cacheInfoCommand(o)));
  cache
    .command('prune')
    .description(
      'forget hashes of deleted files, remove temp files over an hour old, re-verify changed blobs (quarantining tampered ones), and with --max-size evict oldest blobs',
    )
    .option('--max-size <size>', 'evict blobs until the blob cache holds at most this, e.g. 10G, 500M, 0')
    .option('--json', 'machine-readable output')
    .action(act(async (o: Flags) => (await import('../commands/cache/cache-command.ts')).cachePruneCommand(o)));

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
    .action(
      act(async (id: string, o: Flags) => (await import('../commands/user/user-command.ts')).userAddCommand(id, o)),
    );
  user
    .command('list')
    .description("this box's users: email, teams and roles, live tokens")
    .option('--json', 'machine-readable output')
    .action(act(async (o: Flags) => (await import('../commands/user/user-command.ts')).userListCommand(o)));
  user
    .command('remove')
    .description('offboard a user of this box: out of every team, every token they hold revoked (audited)')
    .argument('<id>', 'user id')
    .option('--json', 'machine-readable output')
    .action(
      act(async (id: string, o: Flags) => (await import('../commands/user/user-command.ts')).userRemoveCommand(id, o)),
    );
}
