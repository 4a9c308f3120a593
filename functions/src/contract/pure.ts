/**
 * The browser-safe part of the contract (package entry `@studio-lite/functions/contract/pure`): modules that import no
 * node built-in, so the web app may import their code, not only their types (.dependency-cruiser.cjs keeps it so).
 */
export * from './checkpoints.ts';
export * from './retention-text.ts';
