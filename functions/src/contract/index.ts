/**
 * The contract between the backend and its clients (the CLI, the web app): the only module they import from
 * functions/ (package entry `@studio-lite/functions/contract`). Everything here is plain data, validation and
 * error vocabulary; it imports nothing else from functions/src. It uses node built-ins (hashing, statfs), so the web
 * app imports types from it only.
 */
export * from './auth-config.ts';
export * from './checkpoints.ts';
export * from './errors.ts';
export * from './job-model.ts';
export * from './manifest.ts';
export * from './model.ts';
export * from './names.ts';
export * from './no-space.ts';
export * from './push.ts';
export * from './redact.ts';
export * from './results.ts';
export * from './retention-text.ts';
export * from './schemas.ts';
export * from './transfer.ts';
export * from './wire.ts';
