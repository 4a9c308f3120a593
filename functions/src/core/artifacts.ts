import { createHash } from 'node:crypto';
import { isStudioError, StudioError } from '../contract/errors.ts';
import { type Manifest, manifestDigest, manifestTotals, parseManifest } from '../contract/manifest.ts';
import type { CaptureStats, Principal, VersionRecord, VersionWithManifest } from '../contract/model.ts';
import { assertExperimentKey, assertTag } from '../contract/names.ts';
import { LIMITS, type RegisterPackBody } from '../contract/schemas.ts';
import type { DownloadResponse, PlanUploadResponse, RegisterPackResponse } from '../contract/wire.ts';
import { recordAudit } from './audit.ts';
import { requireAnswerable, requireArtifactRead, requireExperimentWrite } from './authz.ts';
import { recordBlobs } from './blob-records.ts';
import type { CoreDeps } from './context.ts';
import { isConfined, promoteStaged, readableBlobs, uploadKeyFor } from './job-blobs.ts';
import { blobKey, packKey } from './keys.ts';
import { claimedBlobs, planPacks, registerPack } from './packs.ts';

/** Largest blob accepted unless the deployment configures another (STUDIO_MAX_BLOB_BYTES / STUDIOML_MAX_BLOB_BYTES). */
export const DEFAULT_MAX_BLOB_BYTES = 100 * 2 ** 30;

/** Throws E_TOO_LARGE naming the first blob over the configured maximum (nothing is signed or stored). */
export function requireBlobSizes(
  deps: CoreDeps,
  blobs: Iterable<{ sha256: string; size: number; path?: string }>,
): void {
  const max = deps.maxBlobBytes ?? DEFAULT_MAX_BLOB_BYTES;
  for (const b of blobs) {
    if (b.size > max) {
      throw new StudioError(
        'E_TOO_LARGE',
        `${b.path ?? `blob ${b.sha256}`}: ${b.size} bytes, at most ${max} per blob`,
        {
          details: { field: b.path ? 'manifest.files' : 'blobs', max },
        },
      );
    }
  }
}

/** Missing blobs at least this large also get a resumable session (when the store offers them). */
export const RESUMABLE_MIN_BYTES = 32 << 20;

/**
 * Artifacts change while their experiment runs or is queued. An ended experiment receiving a push (core/push.ts) takes
 * uploads and pack registrations (`uploads: true`) from its pusher or a team admin only, and no commit: its versions
 * arrive through POST …/push/versions.
 */
async function requireWritableExperiment(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  uploads = false,
): Promise<void> {
  assertExperimentKey(key);
  const exp = await deps.experiments.getExperiment(team, key);
  if (!exp) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
  if (exp.status === 'running' || exp.status === 'queued') return;
  if (uploads && exp.push?.complete === false) return requireAnswerable(p, team, exp, 'upload into the open push of');
  throw new StudioError('E_CONFLICT', `experiment ${key} is ${exp.status}; its artifacts can no longer change`);
}

function expiry(deps: CoreDeps): Date {
  return new Date(deps.now().getTime() + deps.urlTtlSeconds * 1000);
}

/** Answers which blobs the team lacks, with signed upload requests for exactly those. */
export async function planUpload(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  tag: string,
  blobs: { sha256: string; size: number; md5?: string | undefined }[],
): Promise<PlanUploadResponse> {
  requireExperimentWrite(p, team, key);
  assertTag(tag);
  requireBlobSizes(deps, blobs);
  await requireWritableExperiment(deps, p, team, key, true);
  const unique = new Map(blobs.map((b) => [b.sha256, b]));
  const have = await deps.blobIndex.findBlobs(team, [...unique.keys()]);
  // A job token learns nothing about blobs it may not read: those are always "missing" (core/job-blobs.ts).
  const readable = isConfined(p) ? await readableBlobs(deps, p, team, loadManifest) : null;
  const present = (sha: string) => !!have.get(sha)?.verified && (!readable || readable.has(sha));
  let missing = [...unique.values()].filter((b) => !present(b.sha256));
  if (!readable && missing.some((b) => b.sha256 === EMPTY_SHA256)) {
    // Every capture with an empty file has this blob: it costs nothing to store here, and a client with nothing
    // else to send then needs no signed URL (the CLI starts its local storage host only for one).
    if (await storeEmptyBlob(deps, team)) missing = missing.filter((b) => b.sha256 !== EMPTY_SHA256);
  }
  const expiresAt = expiry(deps);
  const out: PlanUploadResponse = { uploads: [], packs: [], present: unique.size - missing.length };
  const signResumable = deps.blobs.signResumableUpload?.bind(deps.blobs);
  const small = missing.filter((b) => b.size <= LIMITS.packMaxBlobSize);
  out.packs = await planPacks(deps, p, team, small, expiresAt);
  for (const b of missing) {
    if (b.size <= LIMITS.packMaxBlobSize) continue;
    const k = uploadKeyFor(p, team, b.sha256);
    const request = await deps.blobs.signUpload(k, { ...b, expiresAt });
    // Large blobs also get a session start: a client that knows sessions resumes an interrupted transfer; older
    // clients keep using the single PUT.
    const resumable =
      signResumable && b.size >= RESUMABLE_MIN_BYTES ? await signResumable(k, { ...b, expiresAt }) : undefined;
    out.uploads.push({ sha256: b.sha256, size: b.size, request, ...(resumable ? { resumable } : {}) });
  }
  return out;
}

/**
 * Registers a pack the caller uploaded for this artifact (core/packs.ts), with the same checks as a plan: write access
 * to a running experiment.
 */
export async function registerArtifactPack(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  tag: string,
  body: RegisterPackBody,
): Promise<RegisterPackResponse> {
  requireExperimentWrite(p, team, key);
  assertTag(tag);
  requireBlobSizes(deps, body.members);
  await requireWritableExperiment(deps, p, team, key, true);
  return registerPack(deps, p, team, body);
}

/** sha256 of zero bytes. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * Stores and records the team's empty blob; false when a GC run is deleting it right now (it is then uploaded like
 * any other blob).
 */
async function storeEmptyBlob(deps: CoreDeps, team: string): Promise<boolean> {
  await deps.blobs.put(blobKey(team, EMPTY_SHA256), new Uint8Array(0), 'application/octet-stream');
  try {
    await recordBlobs(deps, team, [{ sha256: EMPTY_SHA256, size: 0, verified: true }]);
    return true;
  } catch (err) {
    if (isStudioError(err, 'E_BLOB_MISSING')) return false;
    throw err;
  }
}

async function storedBytesMatch(deps: CoreDeps, key: string, sha256: string): Promise<boolean> {
  const h = createHash('sha256');
  for await (const chunk of await deps.blobs.read(key)) h.update(chunk);
  return h.digest('hex') === sha256;
}

/** putBlobs, where a blob a GC run is deleting right now reads as missing: the client uploads it again. */
/**
 * Confirms every blob of the manifest is stored (recording ones the store has but metadata lacks). A job token's
 * blobs outside what it may read come only from its own staged uploads (core/job-blobs.ts).
 */
async function requireBlobs(deps: CoreDeps, p: Principal, team: string, m: Manifest): Promise<void> {
  const sizes = new Map<string, number>();
  for (const f of m.files) {
    const seen = sizes.get(f.sha256);
    if (seen !== undefined && seen !== f.size) {
      throw new StudioError('E_SIZE_MISMATCH', `${f.path}: blob ${f.sha256} is listed with two different sizes`);
    }
    sizes.set(f.sha256, f.size);
  }
  const staged: [string, number][] = [];
  if (isConfined(p)) {
    const readable = await readableBlobs(deps, p, team, loadManifest);
    // Members of packs it registered are its own uploads too, checked when registered (core/packs.ts).
    const claimed = await claimedBlobs(deps, p, team);
    for (const [sha, size] of sizes) {
      if (readable.has(sha) || claimed.has(sha)) continue;
      staged.push([sha, size]);
      sizes.delete(sha);
    }
  }
  const own = await promoteStaged(deps, p, team, staged);
  const known = await deps.blobIndex.findBlobs(team, [...sizes.keys()]);
  for (const [sha, rec] of known) {
    if (rec.size !== sizes.get(sha)) throw new StudioError('E_SIZE_MISMATCH', `blob ${sha} has size ${rec.size}`);
  }
  // Unknown or unverified blobs are checked against storage; where the store cannot check a sha256 on upload (GCS),
  // the backend hashes the stored bytes itself before any version may reference them.
  const unchecked = [...sizes].filter(([sha]) => !known.get(sha)?.verified);
  const found: { sha256: string; size: number; verified: boolean }[] = [...own.promoted];
  const missing: string[] = [...own.missing];
  const corrupt: string[] = [...own.corrupt];
  for (let i = 0; i < unchecked.length; i += 64) {
    await Promise.all(
      unchecked.slice(i, i + 64).map(async ([sha, size]) => {
        const key = blobKey(team, sha);
        const s = await deps.blobs.stat(key);
        if (!s || s.size !== size) {
          missing.push(sha);
          return;
        }
        if (!deps.blobs.verifiesOnUpload && !(await storedBytesMatch(deps, key, sha))) {
          // Bytes that do not match their name are removed, so a correct upload can take their place.
          await deps.blobs.delete(key);
          corrupt.push(sha);
          return;
        }
        found.push({ sha256: sha, size, verified: true });
      }),
    );
  }
  if (corrupt.length) {
    throw new StudioError('E_HASH_MISMATCH', `${corrupt.length} uploaded blob(s) do not match their sha256`, {
      details: { corrupt: corrupt.slice(0, 20) },
    });
  }
  // A blob a GC run condemned is needed again: re-recording it clears condemnedAt before this version exists, so
  // the run's later compare-and-set fails and the blob stays (core/gc.ts).
  for (const [sha, rec] of known)
    if (rec.verified && rec.condemnedAt) found.push({ sha256: sha, size: rec.size, verified: true });
  if (found.length) await recordBlobs(deps, team, found);
  if (missing.length) {
    throw new StudioError('E_BLOB_MISSING', `${missing.length} blob(s) of this version were never uploaded`, {
      details: { missing: missing.slice(0, 20) },
    });
  }
}

/**
 * Commits a version atomically once every blob is present and verified. Returns created=false (and the existing
 * version) when nothing changed since the latest version.
 */
export async function commitVersion(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  tag: string,
  body: { mutable: boolean; manifest: unknown; stats: CaptureStats },
): Promise<{ version: VersionRecord; created: boolean }> {
  requireExperimentWrite(p, team, key);
  assertTag(tag);
  const manifest = parseManifest(body.manifest);
  requireBlobSizes(deps, manifest.files);
  await requireWritableExperiment(deps, p, team, key);
  const digest = manifestDigest(manifest);
  // Decide what metadata would refuse before writing anything, so a refused commit leaves no manifest blob behind
  // (a concurrent race can still orphan one content-addressed manifest: harmless, never referenced).
  const art = (await deps.experiments.listArtifacts(team, key)).find((a) => a.tag === tag);
  if (art) {
    const latest = await deps.experiments.getVersion(team, key, tag);
    if (art.mutable !== body.mutable) {
      throw new StudioError('E_CONFLICT', `artifact ${key}/${tag} is ${art.mutable ? 'mutable' : 'immutable'}`);
    }
    if (latest && latest.digest === digest) return { version: latest, created: false };
    if (!art.mutable)
      throw new StudioError('E_IMMUTABLE', `artifact ${key}/${tag} is immutable and already has a version`);
  }
  return storeVersion(deps, p, team, key, tag, { mutable: body.mutable, manifest, digest, stats: body.stats });
}

/**
 * Confirms every blob of the manifest, stores the manifest and appends the version (commits, and pushes with the
 * version's original creator and time).
 */
export async function storeVersion(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  tag: string,
  v: {
    mutable: boolean;
    manifest: Manifest;
    /** manifestDigest(manifest), which every caller has computed already. */
    digest: string;
    stats: CaptureStats;
    createdBy?: string;
    createdAt?: string;
  },
): Promise<{ version: VersionRecord; created: boolean }> {
  const { manifest } = v;
  await requireBlobs(deps, p, team, manifest);
  const json = Buffer.from(JSON.stringify(manifest));
  const manifestSha256 = createHash('sha256').update(json).digest('hex');
  const mkey = blobKey(team, manifestSha256);
  if (!(await deps.blobs.stat(mkey))) await deps.blobs.put(mkey, json, 'application/json');
  await recordBlobs(deps, team, [{ sha256: manifestSha256, size: json.length, verified: true }]);
  const totals = manifestTotals(manifest);
  return deps.experiments.commitVersion({
    team,
    experiment: key,
    tag,
    mutable: v.mutable,
    digest: v.digest,
    manifestSha256,
    files: totals.files,
    bytes: totals.bytes,
    stats: v.stats,
    createdBy: v.createdBy ?? p.userId,
    createdAt: v.createdAt ?? deps.now().toISOString(),
  });
}

// Manifests are immutable and content-addressed, so a process-wide cache can never be stale.
const manifestCache = new Map<string, Manifest>();

export async function loadManifest(deps: CoreDeps, team: string, sha256: string): Promise<Manifest> {
  const cacheKey = `${team}/${sha256}`;
  const hit = manifestCache.get(cacheKey);
  if (hit) return hit;
  const m = JSON.parse(Buffer.from(await deps.blobs.get(blobKey(team, sha256))).toString('utf8')) as Manifest;
  if (manifestCache.size > 64) manifestCache.delete(manifestCache.keys().next().value as string);
  manifestCache.set(cacheKey, m);
  return m;
}

export async function getVersion(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  tag: string,
  version: number | undefined,
): Promise<VersionWithManifest> {
  requireArtifactRead(p, team, key, tag, version);
  assertExperimentKey(key);
  assertTag(tag);
  const v = await deps.experiments.getVersion(team, key, tag, version);
  if (!v) {
    const exp = await deps.experiments.getExperiment(team, key);
    if (!exp) throw new StudioError('E_NOT_FOUND', `experiment ${key} not found`);
    throw new StudioError('E_NOT_FOUND', `artifact ${key}/${tag}${version ? `@${version}` : ''} not found`);
  }
  return { ...v, manifest: await loadManifest(deps, team, v.manifestSha256) };
}

/** Bytes one signed pack range may span: what a client holds in memory while it checks and writes its members. */
export const RANGE_MAX = 16 << 20;

/** Members (sorted by offset) in runs where each starts where the previous ended, each run at most `max` bytes. */
export function contiguousRuns<T extends { offset: number; size: number }>(sorted: T[], max: number): T[][] {
  const runs: T[][] = [];
  let cur: T[] = [];
  let start = 0;
  let end = 0;
  for (const m of sorted) {
    if (cur.length > 0 && (m.offset !== end || m.offset + m.size - start > max)) {
      runs.push(cur);
      cur = [];
    }
    if (cur.length === 0) start = m.offset;
    cur.push(m);
    end = m.offset + m.size;
  }
  if (cur.length > 0) runs.push(cur);
  return runs;
}

/**
 * Signs downloads only for blobs the version references, so a known hash alone grants nothing. Blobs of their own
 * get one GET each; packed blobs one GET per pack, which the client sends with ranges (DownloadResponse).
 */
export async function signDownloads(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  tag: string,
  version: number,
  sha256s: string[],
): Promise<DownloadResponse> {
  const v = await getVersion(deps, p, team, key, tag, version);
  const sizes = new Map(v.manifest.files.map((f) => [f.sha256, f.size]));
  const expiresAt = expiry(deps);
  const wanted = [...new Set(sha256s)];
  for (const sha of wanted) {
    if (!sizes.has(sha)) throw new StudioError('E_FORBIDDEN', `blob ${sha} is not part of ${key}/${tag}@${version}`);
  }
  const records = await deps.blobIndex.findBlobs(team, wanted);
  const out: Required<DownloadResponse> = { blobs: [], packs: [] };
  const packs = new Map<string, Required<DownloadResponse>['packs'][number]['members']>();
  let bytes = 0;
  for (const sha of wanted) {
    const size = sizes.get(sha) as number;
    bytes += size;
    const pack = records.get(sha)?.pack;
    if (pack) {
      const members = packs.get(pack.id) ?? [];
      members.push({ sha256: sha, size, offset: pack.offset });
      packs.set(pack.id, members);
    } else {
      out.blobs.push({ sha256: sha, size, request: await deps.blobs.signDownload(blobKey(team, sha), expiresAt) });
    }
  }
  // One GET per run of neighbouring members (no gap, at most RANGE_MAX bytes), signed for exactly those bytes: a pack
  // may hold blobs the caller may not read (another version's, for a job token), and a URL of the whole pack, or of
  // a range spanning them, would hand them out.
  for (const [id, members] of packs) {
    members.sort((a, b) => a.offset - b.offset);
    for (const run of contiguousRuns(members, RANGE_MAX)) {
      const first = run[0] as (typeof run)[number];
      const last = run[run.length - 1] as (typeof run)[number];
      const range = { offset: first.offset, length: last.offset + last.size - first.offset };
      out.packs.push({ id, members: run, request: await deps.blobs.signDownload(packKey(team, id), expiresAt, range) });
    }
  }
  // Audited before any URL leaves the API; job tokens appear as themselves (actor kind "job").
  await recordAudit(deps, p, team, 'download.sign', `${key}/${tag}@${version}`, { blobs: wanted.length, bytes });
  return out;
}
