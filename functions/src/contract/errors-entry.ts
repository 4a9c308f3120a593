/**
 * The error vocabulary alone (package entry `@studio-lite/functions/contract/errors`): what the CLI loads before it
 * knows which command runs. The full entry (index.ts) also evaluates zod and every schema, which `--version` and
 * `--help` should not pay for.
 */
export * from './errors.ts';
export * from './no-space.ts';
