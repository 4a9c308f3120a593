import { readFileSync } from 'node:fs';
import { createDiskBlobStore, type DiskBlobStore } from '../../adapters/local/disk-blob-store.ts';
import { homePaths, loadOrCreateSecret, writePrivateFile } from '../../adapters/local/local-home.ts';
import { createLocalTaskQueue } from '../../adapters/local/local-task-queue.ts';
import { createSqliteAliasStore } from '../../adapters/local/sqlite-alias-store.ts';
import { createSqliteAuditLog } from '../../adapters/local/sqlite-audit-log.ts';
import { openSqliteDb } from '../../adapters/local/sqlite-db.ts';
import { createSqliteJobStore } from '../../adapters/local/sqlite-job-store.ts';
import { createSqliteRetentionStore } from '../../adapters/local/sqlite-retention-store.ts';
import { createSqliteSigninCodes } from '../../adapters/local/sqlite-signin-codes.ts';
import { createSqliteStores } from '../../adapters/local/sqlite-stores.ts';
import { provisionOwner } from '../../core/accounts.ts';
import type { CoreDeps } from '../../core/context.ts';
import type { JobSettings } from '../../core/job-settings.ts';
import { deriveLinkKey } from '../../core/link-signer.ts';
import { RETENTION_KIND } from '../../core/retention-schedule.ts';
import { runTask } from '../../core/task-kinds.ts';
import { createTokenIdentity } from '../../core/token-identity.ts';
import { hashToken } from '../../core/tokens.ts';
import { type RetentionScheduleOptions, startRetentionSchedule } from './retention-schedule.ts';

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

/**
 * Opens the embedded backend under `home`: SQLite metadata, blobs on disk, hashed tokens. `retentionSchedule`
 * (`studio-lite serve` only): this process applies the retention policies now and daily (retention-schedule.ts) and
 * delivers `retention` tasks, which every other process leaves alone; its `log` hears of failed tasks.
 */
export function openLocalBackend(
  home: string,
  opts: {
    publicUrl: () => string | Promise<string>;
    urlTtlSeconds?: number;
    now?: () => Date;
    retentionSchedule?: RetentionScheduleOptions;
  },
): LocalBackend {
  const paths = homePaths(home);
  // One connection to the metadata file for every SQLite adapter of this process.
  const sdb = openSqliteDb(paths.db);
  const stores = createSqliteStores(sdb);
  const secret = loadOrCreateSecret(paths.secret);
  const blobs = createDiskBlobStore({
    root: paths.store,
    secret,
    publicUrl: opts.publicUrl,
  });
  const now = opts.now ?? (() => new Date());
  const jobs = createSqliteJobStore(sdb);
  const audit = createSqliteAuditLog(sdb);
  const signinCodes = createSqliteSigninCodes(sdb);
  const aliases = createSqliteAliasStore(sdb);
  const retention = createSqliteRetentionStore(sdb);
  const linkKey = deriveLinkKey(secret);
  const deps: CoreDeps = {
    ...stores,
    blobs,
    audit,
    aliases,
    retention,
    identity: createTokenIdentity(stores, now),
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
  // Retention runs are delivered only by a process that schedules them (serve), never by a run or a worker.
  const schedule = opts.retentionSchedule;
  // One retention run at a time in this process (a stale daily task and the start run are due together).
  let retentionRun: Promise<unknown> = Promise.resolve();
  const tasks = createLocalTaskQueue({
    db: sdb,
    dispatch: async (kind, payload) => {
      if (kind !== RETENTION_KIND) {
        await runTask(deps, kind, payload);
        return;
      }
      const run = retentionRun.catch(() => {}).then(() => runTask(deps, kind, payload));
      retentionRun = run;
      await run;
    },
    pollMs: 1000,
    ...(schedule ? { log: schedule.log } : { skipKinds: [RETENTION_KIND] }),
  });
  deps.tasks = tasks;
  const retentionRuns = schedule ? startRetentionSchedule(tasks, schedule) : null;
  return {
    deps,
    blobs,
    close: async () => {
      retentionRuns?.stop();
      await tasks.close();
      sdb.close();
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
    const t = saved.token ? await deps.tokens.getTokenByHash(hashToken(saved.token)) : null;
    if (t && !t.revokedAt && saved.api_url === null) return saved;
    if (saved.api_url) return saved; // a deployment login; not ours to replace
  } catch {
    // missing or unreadable: create below
  }
  const secret = await provisionOwner(deps, { userId: LOCAL_USER, name: 'local user', team: LOCAL_TEAM });
  const creds: LocalCredentials = { api_url: null, token: secret, user: LOCAL_USER };
  writePrivateFile(file, `${JSON.stringify(creds, null, 2)}\n`);
  return creds;
}
