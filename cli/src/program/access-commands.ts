import { type Command, Option } from 'commander';
import { integerOption } from '../option-parsers.ts';
import { act, type Flags } from './action.ts';
import { collect } from './argv.ts';

/** Who may do what: token, team, audit. */
export function addAccessCommands(p: Command): void {
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
    .action(act(async (o: Flags) => (await import('../commands/token/token-command.ts')).tokenCreateCommand(o)));
  token
    .command('list')
    .description('your tokens (with --team: every worker and job token of that team, for its admins)')
    .option('--team <team>', "list the team's worker and job tokens, whoever minted them (team admins)")
    .option('--json', 'machine-readable output')
    .action(act(async (o: Flags) => (await import('../commands/token/token-command.ts')).tokenListCommand(o)));
  token
    .command('revoke')
    .description('revoke one of your tokens, or (team admins) a worker or job token of the team')
    .argument('<id>', 'token id (from token list)')
    .option('--json', 'machine-readable output')
    .action(
      act(async (id: string, o: Flags) =>
        (await import('../commands/token/token-command.ts')).tokenRevokeCommand(id, o),
      ),
    );
  const team = p.command('team').description('teams: create, add/remove members, list (roles viewer < editor < admin)');
  team
    .command('create')
    .description('create a team; you become its admin')
    .argument('<id>', 'team id: letters, digits, . _ - (max 128)')
    .option('--json', 'machine-readable output')
    .action(
      act(async (id: string, o: Flags) => (await import('../commands/team/team-command.ts')).teamCreateCommand(id, o)),
    );
  team
    .command('add')
    .description('add a member or change their role (team admins); they must have signed in once / been created')
    .argument('<team>')
    .argument('<user>', 'user id or email')
    .option('--role <role>', 'viewer, editor or admin (default viewer)')
    .option('--json', 'machine-readable output')
    .action(
      act(async (t: string, user: string, o: Flags) =>
        (await import('../commands/team/team-command.ts')).teamAddCommand(t, user, o),
      ),
    );
  team
    .command('remove')
    .description('remove a member (team admins), or leave a team yourself')
    .argument('<team>')
    .argument('<user>', 'user id or email')
    .option('--json', 'machine-readable output')
    .action(
      act(async (t: string, user: string, o: Flags) =>
        (await import('../commands/team/team-command.ts')).teamRemoveCommand(t, user, o),
      ),
    );
  team
    .command('use')
    .description('act in this team from now on when none is named (remembered per backend in $STUDIOML_HOME/team.json)')
    .argument('<team>')
    .option('--json', 'machine-readable output')
    .action(
      act(async (t: string, o: Flags) => (await import('../commands/team/team-use-command.ts')).teamUseCommand(t, o)),
    );
  team
    .command('list')
    .description('your teams and your role in each')
    .option('--json', 'machine-readable output')
    .action(act(async (o: Flags) => (await import('../commands/team/team-command.ts')).teamListCommand(o)));
  team
    .command('members')
    .description("a team's members and roles (any member)")
    .argument('<team>')
    .option('--json', 'machine-readable output')
    .action(
      act(async (t: string, o: Flags) => (await import('../commands/team/team-command.ts')).teamMembersCommand(t, o)),
    );

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
    .action(act(async (o: Flags) => (await import('../commands/audit/audit-command.ts')).auditCommand(o)));
}
