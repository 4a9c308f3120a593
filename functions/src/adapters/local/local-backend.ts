import { readFileSync } from 'node:fs';
import { runInternalTask } from '../../api/internal-handler.ts';
import { isStudioError } from '../../contract/errors.ts';
import type { CoreDeps } from '../../core/context.ts';
import type { JobSettings } from '../../core/jobs.ts';
import { deriveLinkKey } from '../../core/link-signer.ts';
import { hashToken, mintToken } from '../../core/tokens.ts';
import { createDiskBlobStore, type DiskBlobStore } from './disk-blob-store.ts';
import { homePaths, loadOrCreateSecret, writePrivateFile } from './local-home.ts';
import { createLocalTaskQueue } from './local-task-queue.ts';
import { createSqliteAliasStore } from './sqlite-alias-store.ts';
import { createSqliteAuditLog } from './sqlite-audit-log.ts';
import { createSqliteJobStore } from './sqlite-job-store.ts';
import { createSqliteMetadataStore } from './sqlite-metadata-store.ts';
import { createSqliteSigninCodes } from './sqlite-signin-codes.ts';
import { createTokenIdentity } from './token-identity.ts';

export const LOCAL_USER = 'local';
export const LOCAL_TEAM = 'local';

export interface LocalCredentials {
  api_url: string | null;
  token: string;
  user: string;
}

export interface LocalBackend {
  deps: CoreDeps;
  blobs: DiskBlobStore;
  close(): Promise<void>;
}

/** Job settings of the embedded backend; STUDIOML_JOB_LEASE_SECONDS shortens leases (tests, flaky networks). */
function localJobSettings(env: NodeJS.ProcessEnv): Partial<JobSettings> {
  const lease = Number(env.STUDIOML_JOB_LEASE_SECONDS);
  return { pollMs: 100, ...(Number.isFinite(lease) && lease >= 1 ? { leaseSeconds: lease } : {}) };
}

/** STUDIOML_RUN_LEASE_SECONDS shortens the lease of direct runs (tests); default DEFAULT_RUN_LEASE_SECONDS. */
function localRunLease(env: NodeJS.ProcessEnv): Pick<CoreDeps, 'runLeaseSeconds'> {
  const lease = Number(env.STUDIOML_RUN_LEASE_SECONDS);
  return Number.isFinite(lease) && lease >= 1 ? { runLeaseSeconds: lease } : {};
}

/** STUDIOML_GC_MIN_GRACE_SECONDS lowers the shortest blob GC grace (tests); the default floor is one hour. */
function localGcSettings(env: NodeJS.ProcessEnv): Pick<CoreDeps, 'gcMinGraceSeconds'> {
  const raw = env.STUDIOML_GC_MIN_GRACE_SECONDS;
  const min = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Number.isSafeInteger(min) && min >= 0 ? { gcMinGraceSeconds: min } : {};
}

/** STUDIOML_MAX_BLOB_BYTES: the largest blob this box accepts (default core/artifacts.ts DEFAULT_MAX_BLOB_BYTES). */
function localBlobLimit(env: NodeJS.ProcessEnv): Pick<CoreDeps, 'maxBlobBytes'> {
  const raw = env.STUDIOML_MAX_BLOB_BYTES;
  const max = raw === undefined || raw === '' ? Number.NaN : Number(raw);
  return Number.isSafeInteger(max) && max > 0 ? { maxBlobBytes: max } : {};
}

/** Opens the embedded backend under `home`: SQLite metadata, blobs on disk, hashed tokens. */
export function openLocalBackend(
  home: string,
  opts: { publicUrl: () => string; urlTtlSeconds?: number; now?: () => Date },
): LocalBackend {
  const paths = homePaths(home);
  const meta = createSqliteMetadataStore({ path: paths.db });
  const secret = loadOrCreateSecret(paths.secret);
  const blobs = createDiskBlobStore({
    root: paths.store,
    secret,
    publicUrl: opts.publicUrl,
  });
  const now = opts.now ?? (() => new Date());
  const jobs = createSqliteJobStore({ path: paths.db });
  const audit = createSqliteAuditLog({ path: paths.db });
  const aliases = createSqliteAliasStore({ path: paths.db });
  const signinCodes = createSqliteSigninCodes({ path: paths.db });
  const linkKey = deriveLinkKey(secret);
  const deps: CoreDeps = {
    meta,
    blobs,
    audit,
    aliases,
    identity: createTokenIdentity(meta, now),
    urlTtlSeconds: opts.urlTtlSeconds ?? 900,
    now,
    jobs,
    signinCodes,
    linkKey: async () => linkKey,
    jobSettings: localJobSettings(process.env),
    ...localGcSettings(process.env),
    ...localRunLease(process.env),
    ...localBlobLimit(process.env),
  };
  // Lease deadlines, --lifetime and --max-duration: the same tasks Cloud Tasks delivers in a deployment, delivered
  // here by whichever studio-lite process has the database open (a worker, a serve, a run).
  const tasks = createLocalTaskQueue({
    path: paths.db,
    dispatch: async (route, body) => {
      await runInternalTask(deps, route, body);
    },
    pollMs: 1000,
  });
  deps.tasks = tasks;
  return {
    deps,
    blobs,
    close: async () => {
      await tasks.close();
      jobs.close();
      audit.close();
      aliases.close();
      signinCodes.close();
      meta.close();
    },
  };
}

/**
 * First use: creates the local user, its team and a personal token, saved in `credentials.json` (0600). Later uses
 * return the saved token if the database still knows it.
 */
export async function ensureLocalCredentials(home: string, deps: CoreDeps): Promise<LocalCredentials> {
  const file = homePaths(home).credentials;
  try {
    const saved = JSON.parse(readFileSync(file, 'utf8')) as LocalCredentials;
    const t = saved.token ? await deps.meta.getTokenByHash(hashToken(saved.token)) : null;
    if (t && !t.revokedAt && saved.api_url === null) return saved;
    if (saved.api_url) return saved; // a deployment login; not ours to replace
  } catch {
    // missing or unreadable: create below
  }
  const now = deps.now();
  if (!(await deps.meta.getUser(LOCAL_USER))) {
    await deps.meta.putUser({ id: LOCAL_USER, name: 'local user', createdAt: now.toISOString() });
  }
  const teams = await deps.meta.getMemberships(LOCAL_USER);
  if (!(await deps.meta.getTeam(LOCAL_TEAM))) {
    // Concurrent first runs may both try; the loser's E_CONFLICT means the record is there.
    await deps.meta
      .createTeam({ id: LOCAL_TEAM, createdBy: LOCAL_USER, createdAt: now.toISOString() })
      .catch((err: unknown) => {
        if (!isStudioError(err, 'E_CONFLICT')) throw err;
      });
  }
  if (!teams[LOCAL_TEAM]) await deps.meta.setMembership(LOCAL_TEAM, LOCAL_USER, 'admin');
  const { secret } = await mintToken(deps.meta, {
    userId: LOCAL_USER,
    kind: 'personal',
    scopes: ['*'],
    expiresAt: null,
    now,
  });
  const creds: LocalCredentials = { api_url: null, token: secret, user: LOCAL_USER };
  writePrivateFile(file, `${JSON.stringify(creds, null, 2)}\n`);
  return creds;
}
