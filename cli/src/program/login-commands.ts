import type { Command } from 'commander';
import { act, type Flags } from './action.ts';

/** Choosing the backend: login, logout. */
export function addLoginCommands(p: Command): void {
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
    .action(
      act(async (url: string, o: Flags) => (await import('../commands/login/login-command.ts')).loginCommand(url, o)),
    );

  p.command('logout')
    .description('forget the deployment login and use the embedded backend again')
    .action(act(async (o: Flags) => (await import('../commands/login/login-command.ts')).logoutCommand(o)));
}
