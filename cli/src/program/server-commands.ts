import { type Command, Option } from 'commander';
import { integerOption } from '../option-parsers.ts';
import { act, type Flags } from './action.ts';

/** The local server: serve, ui. */
export function addServerCommands(p: Command): void {
  p.command('serve')
    .description('run the local backend as a server for several processes or users on this machine')
    .addOption(
      new Option('--port <n>', 'port (default 8765; 0 = any free port)').argParser(integerOption('--port', 0, 65535)),
    )
    .option('--listen <host>', 'address to bind (default 127.0.0.1; e.g. 0.0.0.0 for a shared box)')
    .option('--public-url <url>', 'where clients reach this box, for signed URLs (default: the bound address)')
    .action(act(async (o: Flags) => (await import('../commands/serve/serve-command.ts')).serveCommand(o)));
  p.command('ui')
    .description('open the web UI: prints a one-time sign-in URL and starts the local server if none runs')
    .option('--port <n>', 'port of the local server it starts (default 8765)', Number)
    .option('--no-open', 'print the URL without opening a browser')
    .option('--browser-command <cmd>', 'command that opens the URL (default: $BROWSER or the system opener)')
    .action(act(async (o: Flags) => (await import('../commands/ui/ui-command.ts')).uiCommand(o)));
}
