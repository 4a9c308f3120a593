import * as z from 'zod';
import { AUDIT_ACTIONS } from './model.ts';
import { SHA256_RE } from './names.ts';

/** Request bodies of the v1 API, validated at the boundary. Responses are typed by the interfaces below. */

/**
 * Per-field caps on what ends up in records (and in every later listing): a list of strings whose total length is over
 * `max` is refused as too_big, which readBody turns into E_TOO_LARGE naming the field.
 */
export const FIELD_CAPS = { commandBytes: 256 << 10, warningsBytes: 1 << 20, skippedBytes: 1 << 20 } as const;

function cappedStrings(item: z.ZodString, maxItems: number, maxTotal: number) {
  return z
    .array(item)
    .max(maxItems)
    .superRefine((list, ctx) => {
      let total = 0;
      for (const s of list) total += s.length;
      if (total > maxTotal) {
        ctx.addIssue({
          code: 'too_big',
          origin: 'string',
          maximum: maxTotal,
          inclusive: true,
          input: list,
          message: `${total} characters in total, at most ${maxTotal}`,
        });
      }
    });
}

const commandField = cappedStrings(z.string().max(65536), 4096, FIELD_CAPS.commandBytes);
const warningsField = cappedStrings(z.string().max(4096), 10_000, FIELD_CAPS.warningsBytes);

const blobRef = z.object({ sha256: z.string().regex(SHA256_RE), size: z.number().int().nonnegative() });
/** base64 of a 16-byte MD5. */
const MD5_B64_RE = /^[A-Za-z0-9+/]{22}==$/;
/** A blob to upload; `md5` lets storage that checks it (GCS `x-goog-hash`) refuse wrong bytes at upload time. */
const uploadRef = blobRef.extend({ md5: z.string().regex(MD5_B64_RE).optional() });

export const createExperimentBody = z.object({
  key: z.string().min(1).max(128),
  project: z.string().min(1).max(128).nullable().default(null),
  command: commandField.default([]),
  cwd: z.string().max(4096).nullable().default(null),
  host: z.string().max(255).nullable().default(null),
  git: z
    .object({ commit: z.string().max(64), url: z.string().max(2048).nullable(), dirty: z.boolean() })
    .nullable()
    .default(null),
  /** Artifacts from other experiments to resolve now and record as lineage. */
  reuse: z
    .array(
      z.object({
        experiment: z.string().min(1).max(128),
        tag: z.string().min(1).max(64),
        version: z.number().int().positive().optional(),
        /** A version alias (`best`) instead of a number; resolved to its version now. */
        alias: z.string().min(1).max(64).optional(),
        as: z.string().min(1).max(64),
      }),
    )
    .max(256)
    .default([]),
  /** Continue an existing experiment instead of refusing its key. */
  resume: z.boolean().default(false),
  /** Register it as `queued` (a `run --queue` that submits a job next) instead of `running`. */
  queued: z.boolean().default(false),
});
export type CreateExperimentBody = z.input<typeof createExperimentBody>;

export const finishExperimentBody = z.object({
  status: z.enum(['finished', 'failed', 'stopped']),
  exitCode: z.number().int().nullable(),
  signal: z.string().max(32).nullable().default(null),
  warnings: warningsField.default([]),
  /** The attempt finishing (direct runs); without it any attempt of a running experiment may finish it. */
  attempt: z.number().int().positive().nullable().default(null),
});
export type FinishExperimentBody = z.input<typeof finishExperimentBody>;

export const heartbeatExperimentBody = z.object({ attempt: z.number().int().positive() });
export type HeartbeatExperimentBody = z.input<typeof heartbeatExperimentBody>;

export const planUploadBody = z.object({ blobs: z.array(uploadRef).min(1).max(10_000) });
export type PlanUploadBody = z.input<typeof planUploadBody>;

const statsField = z
  .object({
    hashedFiles: z.number().int().nonnegative(),
    hashedBytes: z.number().int().nonnegative(),
    uploadedBlobs: z.number().int().nonnegative(),
    uploadedBytes: z.number().int().nonnegative(),
    skipped: cappedStrings(z.string().max(4096), 10_000, FIELD_CAPS.skippedBytes),
    excluded: z.array(z.string().max(4096)).max(1000).optional(),
  })
  .default({ hashedFiles: 0, hashedBytes: 0, uploadedBlobs: 0, uploadedBytes: 0, skipped: [] });

export const commitVersionBody = z.object({
  mutable: z.boolean(),
  /** Validated separately by parseManifest (paths, duplicates). */
  manifest: z.unknown(),
  stats: statsField,
});
export type CommitVersionBody = z.input<typeof commitVersionBody>;

/** A pack the client uploaded, named as the plan gave it (PlannedPack in wire.ts). */
export const registerPackBody = z.strictObject({
  id: z.string().regex(/^[0-9a-f]{64}$/),
  nonce: z.string().regex(/^[0-9a-f]{32}$/),
  members: z
    .array(z.strictObject({ sha256: z.string().regex(SHA256_RE), size: z.number().int().nonnegative() }))
    .min(1)
    .max(4096),
});
export type RegisterPackBody = z.input<typeof registerPackBody>;

export const downloadBody = z.object({ sha256s: z.array(z.string().regex(SHA256_RE)).min(1).max(10_000) });
export type DownloadBody = z.input<typeof downloadBody>;

/** A personal access token; scopes are checked against TOKEN_SCOPES in the core (default 90 days, at most 1 year). */
export const createTokenBody = z.object({
  scopes: z.array(z.string().min(1).max(64)).min(1).max(16).default(['*']),
  expiresInSeconds: z.number().int().positive().optional(),
});
export type CreateTokenBody = z.input<typeof createTokenBody>;

const isoTime = z.iso.datetime({ offset: true });
const endedStatus = z.enum(['finished', 'failed', 'stopped', 'lost', 'expired']);
const anyStatus = z.enum(['queued', 'running', 'finished', 'failed', 'stopped', 'lost', 'expired']);
const userId = z.string().min(1).max(256);

/** An experiment record as `push` carries it (PushedRecord in push.ts): an ended experiment, times kept. */
export const pushedRecordBody = z.strictObject({
  project: z.string().min(1).max(128).nullable(),
  owner: userId,
  status: endedStatus,
  command: commandField,
  cwd: z.string().max(4096).nullable(),
  host: z.string().max(255).nullable(),
  git: z.object({ commit: z.string().max(64), url: z.string().max(2048).nullable(), dirty: z.boolean() }).nullable(),
  createdAt: isoTime,
  startedAt: isoTime.nullable(),
  finishedAt: isoTime.nullable(),
  exitCode: z.number().int().nullable(),
  signal: z.string().max(32).nullable(),
  warnings: warningsField,
  lineage: z
    .array(
      z.strictObject({
        as: z.string().min(1).max(64),
        experiment: z.string().min(1).max(128),
        tag: z.string().min(1).max(64),
        version: z.number().int().positive(),
      }),
    )
    .max(256),
  attempt: z.number().int().positive().nullable(),
  attempts: z
    .array(
      z.strictObject({
        attempt: z.number().int().positive(),
        status: anyStatus,
        command: commandField,
        host: z.string().max(255).nullable(),
        startedAt: isoTime,
        finishedAt: isoTime.nullable(),
        lastSeenAt: isoTime.nullable(),
        exitCode: z.number().int().nullable(),
        signal: z.string().max(32).nullable(),
      }),
    )
    .max(1000),
  lastSeenAt: isoTime.nullable(),
});

/** PUT /v1/experiments/:key/push: opens (or reopens) the experiment on this backend for a push. */
export const pushBeginBody = z.strictObject({
  /** historyId of the source record (contract/push.ts). */
  origin: z.string().regex(/^[0-9a-f]{64}$/),
  /** The source backend as the pusher names it: `local` or its API URL. */
  from: z.string().min(1).max(2048),
  /** The pusher's host. */
  host: z.string().max(255).nullable().default(null),
  record: pushedRecordBody,
});
export type PushBeginBody = z.input<typeof pushBeginBody>;

/** POST /v1/experiments/:key/push/versions: one version, with its number, creator and time. */
export const pushVersionBody = z.strictObject({
  tag: z.string().min(1).max(64),
  mutable: z.boolean(),
  version: z.number().int().positive(),
  /** Validated by parseManifest. */
  manifest: z.unknown(),
  stats: statsField,
  createdBy: userId,
  createdAt: isoTime,
});
export type PushVersionBody = z.input<typeof pushVersionBody>;

/** POST /v1/experiments/:key/push/complete: the record as the source has it now, and what this push created. */
export const pushCompleteBody = z.strictObject({
  record: pushedRecordBody,
  versionsCreated: z.number().int().nonnegative(),
  uploadedBlobs: z.number().int().nonnegative(),
  uploadedBytes: z.number().int().nonnegative(),
});
export type PushCompleteBody = z.input<typeof pushCompleteBody>;

const count = z.number().int().min(1).max(1_000_000);

/** What a retention policy keeps (RetentionRules in model.ts): each rule null or absent = off. */
export const retentionRulesBody = z.strictObject({
  keepLast: count.nullable().default(null),
  keepEvery: z.number().int().min(2).max(1_000_000).nullable().default(null),
  keepWithinHours: z
    .number()
    .positive()
    .max(100 * 365 * 24)
    .nullable()
    .default(null),
  keepHourly: count.nullable().default(null),
  keepDaily: count.nullable().default(null),
  expireDays: z
    .number()
    .positive()
    .max(100 * 365)
    .nullable()
    .default(null),
});

/** PUT /v1/retention: the policy of the team (project null) or of one project; at least one rule. */
export const setRetentionBody = retentionRulesBody
  .extend({ project: z.string().min(1).max(128).nullable().default(null) })
  .refine((b) => Object.entries(b).some(([k, v]) => k !== 'project' && v !== null), {
    message:
      'a policy needs at least one rule (keepLast, keepEvery, keepWithinHours, keepHourly, keepDaily, expireDays)',
  });
export type SetRetentionBody = z.input<typeof setRetentionBody>;

/** POST /v1/retention/apply: apply now (admins), or a dry run (`rules`: preview a policy before saving it). */
export const applyRetentionBody = z
  .strictObject({
    dryRun: z.boolean().default(false),
    project: z.string().min(1).max(128).nullable().default(null),
    rules: retentionRulesBody.nullable().default(null),
  })
  .refine((b) => b.rules === null || b.dryRun, { message: 'rules (a policy to preview) need dryRun: true' });
export type ApplyRetentionBody = z.input<typeof applyRetentionBody>;

/** Limits the client must respect when it batches. */
export const LIMITS = {
  planBatch: 10_000,
  downloadBatch: 10_000,
  packMaxBlobSize: 256 * 1024,
  packMaxBytes: 16 << 20,
  packMaxMembers: 4096,
};

const relPath = z.string().min(1).max(4096);
const resources = z.record(z.string().regex(/^[a-z][a-z0-9_-]{0,31}$/), z.number().nonnegative().max(1e6));

export const submitJobBody = z.strictObject({
  queue: z.string().min(1).max(63),
  spec: z.strictObject({
    command: commandField.refine((c) => c.length > 0, 'a job needs a command'),
    captures: z
      .array(z.strictObject({ tag: z.string().min(1).max(64), path: relPath }))
      .max(256)
      .default([]),
    inputs: z
      .array(z.strictObject({ tag: z.string().min(1).max(64), path: relPath.nullable() }))
      .max(256)
      .default([]),
    captureInterval: z.number().positive().max(86_400).default(60),
    resources: resources.default({}),
  }),
  lifetimeSeconds: z
    .number()
    .int()
    .positive()
    .max(30 * 24 * 3600)
    .optional(),
  maxDurationSeconds: z
    .number()
    .int()
    .positive()
    .max(30 * 24 * 3600)
    .optional(),
  maxAttempts: z.number().int().min(1).max(20).optional(),
});
export type SubmitJobBody = z.input<typeof submitJobBody>;

export const leaseBody = z.strictObject({
  worker: z.strictObject({
    id: z.string().min(1).max(128),
    host: z.string().max(255).default(''),
    resources: resources.default({}),
  }),
  waitSeconds: z.number().min(0).max(60).default(0),
});
export type LeaseBody = z.input<typeof leaseBody>;

export const completeJobBody = z.strictObject({
  status: z.enum(['finished', 'failed', 'stopped']),
  exitCode: z.number().int().nullable(),
  signal: z.string().max(32).nullable().default(null),
  warnings: warningsField.default([]),
  artifacts: z.record(z.string().min(1).max(64), z.number().int().positive()).default({}),
  // Keys become Firestore map keys: '' and __reserved__ names would make the completion fail there.
  stats: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_]{0,63}$/), z.number()).default({}),
});
export type CompleteJobBody = z.input<typeof completeJobBody>;

export const stopJobBody = z.strictObject({ mode: z.enum(['stop', 'kill']).default('stop') });
export type StopJobBody = z.input<typeof stopJobBody>;

/** Teams (issue 4). Ids are checked by assertTeamId in the core (E_BAD_KEY), roles here. */
export const createTeamBody = z.strictObject({ id: z.string().min(1).max(128) });
export type CreateTeamBody = z.input<typeof createTeamBody>;

export const gcBody = z.strictObject({
  graceSeconds: z.number().int().positive().optional(),
  dryRun: z.boolean().optional(),
});
export type GcBody = z.input<typeof gcBody>;

export const setMemberBody = z.strictObject({ role: z.enum(['viewer', 'editor', 'admin']) });
export type SetMemberBody = z.input<typeof setMemberBody>;

/** PUT …/aliases/:name: the version the alias points at from now on. */
export const setAliasBody = z.strictObject({ version: z.number().int().positive().max(Number.MAX_SAFE_INTEGER) });
export type SetAliasBody = z.input<typeof setAliasBody>;

export const auditActionParam = z.enum(AUDIT_ACTIONS);

export const workerTokenBody = z.strictObject({
  queue: z.string().min(1).max(63),
  expiresInSeconds: z.number().int().positive().optional(),
  label: z.string().min(1).max(200).optional(),
});
export type WorkerTokenBody = z.input<typeof workerTokenBody>;

/** POST /v1/ui/session: the one-time code `studio-lite ui` printed. */
export const signinExchangeBody = z.strictObject({ code: z.string().min(1).max(200) });
