import type { Command } from 'commander';

type Flag = readonly [flags: string, description: string];

const CONFIG: Flag = ['--config <file>', 'config file (default $STUDIOML_HOME/config.yaml)'];
const QUIET: Flag = ['-q, --quiet', 'no progress or informational output'];
const DEBUG: Flag = ['--debug', 'show stack traces and debug logging'];
const TEAM: Flag = ['--team <team>', 'team to act in (default $STUDIOML_TEAM, config `team`, or your only team)'];

/** Commands that are not about one team (or take a team argument of their own). */
const NO_TEAM_OPTION = new Set(['login', 'logout', 'serve', 'ui', 'token', 'team', 'user', 'cache', 'doctor', 'push']);

/** The --team a team-scoped command was given, remembered by main() once the command succeeded. */
export interface UsedTeam {
  team: string;
  config: string | undefined;
}

/** The root command's global flags (in the order its help has always listed them). */
export function addRootFlags(p: Command): Command {
  for (const [flags, description] of [CONFIG, QUIET, DEBUG]) p.option(flags, description);
  return p;
}

/**
 * Makes the global flags work after the command name too (`run -q`, `show --debug`) on every command and
 * sub-command, and adds --team. The team to act in, for someone in several: --team (before or after the command) >
 * STUDIOML_TEAM > config team. Passed on through the environment so that every command, including those that read
 * the config themselves, and only those, see it. Commands naming their team explicitly (team, user add, login) keep
 * their own meaning. `onTeam` hears the --team of a team-scoped command.
 */
export function addGlobalFlags(p: Command, onTeam: (used: UsedTeam) => void): void {
  for (const c of p.commands) {
    for (const x of [c, ...c.commands])
      for (const [flags, description] of [QUIET, DEBUG, CONFIG]) x.option(flags, description);
  }
  p.option(...TEAM);
  for (const c of p.commands) {
    if (!NO_TEAM_OPTION.has(c.name()) && !c.options.some((o) => o.long === '--team')) c.option(...TEAM);
  }
  p.hook('preAction', (_root, action) => {
    const o = action.optsWithGlobals();
    const t = o.team;
    if (typeof t === 'string' && t !== '') {
      process.env.STUDIOML_TEAM = t;
      // A team-scoped command that succeeds with --team makes that team the default for this backend (main()).
      const top = action.parent === p ? action.name() : action.parent?.name();
      if (top && !NO_TEAM_OPTION.has(top)) onTeam({ team: t, config: o.config });
    }
  });
}
