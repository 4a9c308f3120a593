import { isStudioError, noSpace } from '@studio-lite/functions/contract/errors';
import { Command, CommanderError } from 'commander';
import { ExitError, exitCodeOf, hintFor, hintFromDetails, hintOf } from './exit-error.ts';
import { studioHome } from './home/cli-home.ts';
import { packageVersion } from './package-root.ts';
import { addAccessCommands } from './program/access-commands.ts';
import { addAdminCommands } from './program/admin-commands.ts';
import { normalizeArgv } from './program/argv.ts';
import { addArtifactCommands } from './program/artifact-commands.ts';
import { addGlobalFlags, addRootFlags, type UsedTeam } from './program/global-flags.ts';
import { addJobCommands } from './program/job-commands.ts';
import { addLoginCommands } from './program/login-commands.ts';
import { addRunCommand } from './program/run-commands.ts';
import { addServerCommands } from './program/server-commands.ts';
import { sanitize } from './sanitize.ts';

/** The whole command line; commands are registered by group and loaded lazily when they run. */
function program(): Command {
  const p = addRootFlags(
    new Command('studio-lite')
      .description('artifact management for machine-learning experiments')
      .version(packageVersion()),
  )
    .enablePositionalOptions()
    .exitOverride()
    // Commander's own errors are printed by main() in the CLI's format; help and --version still go to stdout.
    .configureOutput({ outputError: () => {} });
  addRunCommand(p);
  addArtifactCommands(p);
  addLoginCommands(p);
  addServerCommands(p);
  addJobCommands(p);
  addAccessCommands(p);
  addAdminCommands(p);
  addGlobalFlags(p, (used) => {
    usedTeam = used;
  });
  return p;
}

/** The --team a team-scoped command was given, remembered once the command succeeded. */
let usedTeam: UsedTeam | null = null;

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
      const cfg = await loadConfig(usedTeam.config);
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
