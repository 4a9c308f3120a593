/**
 * The embedded backend as the CLI runs it on one machine (package entry `@studio-lite/functions/local`): the local
 * server, the local backend's composition root and credentials, and the local user admin. The CLI imports it lazily
 * (dynamic import) so commands that talk to a remote backend never load it.
 */

export type { CoreDeps } from '../../core/context.ts';
export { ensureLocalCredentials, openLocalBackend } from './local-backend.ts';
export { addLocalUser, listLocalUsers, removeLocalUser } from './local-users.ts';
export { startLocalServer } from './server.ts';
