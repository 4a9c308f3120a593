import { type ErrorCode, isStudioError, type StudioError } from '@studio-lite/functions/contract/errors';

/** An expected failure that ends the CLI with `code`; only main.ts calls process.exit. */
export class ExitError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly errorCode: ErrorCode | null = null,
  ) {
    super(message);
  }
}

/** Exit 2 for the user's input or a conflict they must resolve; 1 for everything else. */
const USAGE_CODES = new Set<ErrorCode>([
  'E_BAD_REQUEST',
  'E_BAD_JSON',
  'E_BAD_KEY',
  'E_BAD_TAG',
  'E_BAD_PATH',
  'E_BAD_MANIFEST',
  'E_BAD_COMMAND',
  'E_BAD_ALIAS',
  'E_NOT_FOUND',
  'E_EXPERIMENT_EXISTS',
  'E_IMMUTABLE',
  'E_DEST_EXISTS',
]);

/** `--team nosuch`: the API refuses a team the caller is not in (E_FORBIDDEN); for the CLI that is bad input. */
function namedForeignTeam(err: StudioError): boolean {
  return err.code === 'E_FORBIDDEN' && typeof err.details?.team === 'string';
}

/** A hint that depends on the error's details rather than only its code. */
export function hintFromDetails(err: unknown): string | undefined {
  if (!isStudioError(err)) return undefined;
  if (namedForeignTeam(err))
    return 'your teams: `studio-lite team list`; switch for good with `studio-lite team use TEAM`';
  if (Array.isArray(err.details?.teams)) {
    return (
      'choose once: `studio-lite team use TEAM` (remembered for this backend) or `team: TEAM` in config.yaml; ' +
      '--team TEAM for one command'
    );
  }
  return undefined;
}

export function exitCodeOf(err: unknown): number {
  if (err instanceof ExitError) return err.exitCode;
  if (isStudioError(err)) return USAGE_CODES.has(err.code) || namedForeignTeam(err) ? 2 : 1;
  return 1;
}

const HINTS: Partial<Record<ErrorCode, string>> = {
  E_BAD_COMMAND: 'run SCRIPT.py (python3), SCRIPT.sh (bash), an executable or a file with a #! line, or -- CMD ARGS',
  E_BAD_ALIAS: 'aliases look like best, prod.v2 or run-3; `studio-lite alias EXP/TAG` lists those an artifact has',
  E_EXPERIMENT_EXISTS: 'choose another --experiment key, or add --resume to continue that experiment',
  E_UNAUTHENTICATED: 'run `studio-lite login <api-url>` (deployment) or delete $STUDIOML_HOME/credentials.json (local)',
  E_TOKEN_EXPIRED: 'your token expired: log in again',
  E_UNAVAILABLE: 'check the api_url in your config and your network',
  E_NO_SPACE: 'free space on that device (or move $STUDIOML_HOME), then run the command again',
  E_DEST_EXISTS: 'pull into another folder (-o DIR), or add --force to overwrite the differing files',
  E_NOT_FOUND: 'list experiments with `studio-lite experiments` and artifacts with `studio-lite show EXP`',
};

/** Attaches a hint that fits this particular error (printed instead of the code's generic hint). */
export function withHint<E extends Error>(err: E, hint: string): E {
  return Object.assign(err, { hint });
}

export function hintOf(err: unknown): string | undefined {
  const h = (err as { hint?: unknown } | null)?.hint;
  return typeof h === 'string' ? h : undefined;
}

export function hintFor(code: ErrorCode | null): string | undefined {
  return code ? HINTS[code] : undefined;
}
