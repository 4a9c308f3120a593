/**
 * The embedded backend as the CLI runs it on one machine (package entry `@studio-lite/functions/local`): the local
 * server, the local backend's composition root and credentials, and the local user admin. The CLI imports it lazily
 * (dynamic import) so commands that talk to a remote backend never load it.
 */
export { ensureLocalCredentials, openLocalBackend } from '../../adapters/local/local-backend.ts';
export { addLocalUser, listLocalUsers, removeLocalUser } from '../../adapters/local/local-users.ts';
export type { CoreDeps } from '../../core/context.ts';
export { startLocalServer } from './server.ts';
