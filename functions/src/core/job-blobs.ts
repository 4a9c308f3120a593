import { createHash } from 'node:crypto';
import type { Manifest } from '../contract/manifest.ts';
import type { Principal } from '../contract/model.ts';
import type { CoreDeps } from './context.ts';
import { blobKey, stagingKey } from './keys.ts';

/**
 * What a job token may name in a manifest (issue 11.5). A job sees only the blobs of versions it may read (the latest
 * version of each artifact of its own experiment, and the versions its binding lists as reuses); anything else it
 * must upload itself, into its own staging folder, even when the team holds those bytes already. So a known hash
 * gives a job nothing: plans never count other blobs as present, its commit cannot reference them without its own
 * upload, and no error or size check speaks about them.
 */

/** True for callers confined to their binding (job tokens write artifacts; worker tokens cannot reach these routes). */
export function isConfined(p: Principal): boolean {
  return p.kind === 'job' || p.kind === 'worker';
}

/** The sha256s a job token may reuse without uploading them (see above). */
export async function readableBlobs(
  deps: CoreDeps,
  p: Principal,
  team: string,
  load: (deps: CoreDeps, team: string, sha256: string) => Promise<Manifest>,
): Promise<Set<string>> {
  const out = new Set<string>();
  const b = p.binding;
  if (!b?.experiment) return out;
  const versions = [];
  for (const a of await deps.meta.listArtifacts(team, b.experiment)) {
    versions.push(await deps.meta.getVersion(team, b.experiment, a.tag));
  }
  for (const r of b.reads ?? []) versions.push(await deps.meta.getVersion(team, r.experiment, r.tag, r.version));
  for (const v of versions) {
    if (!v) continue;
    for (const f of (await load(deps, team, v.manifestSha256)).files) out.add(f.sha256);
  }
  return out;
}

/** The key a confined caller uploads `sha256` to. */
export function uploadKeyFor(p: Principal, team: string, sha256: string): string {
  return isConfined(p) ? stagingKey(team, p.tokenId, sha256) : blobKey(team, sha256);
}

async function hashOf(deps: CoreDeps, key: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of await deps.blobs.read(key)) h.update(chunk);
  return h.digest('hex');
}

/**
 * Moves a confined caller's staged uploads of `blobs` into the team's blob keys. Returns the ones it promoted, and
 * those it did not find (or found with the wrong size, or wrong bytes: then deleted) as missing/corrupt. Never looks
 * at the team's own copy, so the answer is the same whether the team has the blob or not.
 */
export async function promoteStaged(
  deps: CoreDeps,
  p: Principal,
  team: string,
  blobs: [string, number][],
): Promise<{ promoted: { sha256: string; size: number; verified: boolean }[]; missing: string[]; corrupt: string[] }> {
  const promoted: { sha256: string; size: number; verified: boolean }[] = [];
  const missing: string[] = [];
  const corrupt: string[] = [];
  const known = await deps.meta.findBlobs(
    team,
    blobs.map(([sha]) => sha),
  );
  const trusted = new Set([...known].filter(([, r]) => r.verified).map(([sha]) => sha));
  for (let i = 0; i < blobs.length; i += 64) {
    await Promise.all(
      blobs.slice(i, i + 64).map(async ([sha, size]) => {
        const staged = stagingKey(team, p.tokenId, sha);
        const s = await deps.blobs.stat(staged);
        if (!s || s.size !== size) {
          missing.push(sha);
          return;
        }
        if (!deps.blobs.verifiesOnUpload && (await hashOf(deps, staged)) !== sha) {
          await deps.blobs.delete(staged);
          corrupt.push(sha);
          return;
        }
        const moved = await deps.blobs.promote(staged, blobKey(team, sha));
        // A copy the team already had, on a store that cannot hash uploads, is trusted only once hashed itself.
        if (!moved && !deps.blobs.verifiesOnUpload && !trusted.has(sha)) {
          if ((await hashOf(deps, blobKey(team, sha))) !== sha) {
            await deps.blobs.delete(blobKey(team, sha));
            corrupt.push(sha);
            return;
          }
        }
        promoted.push({ sha256: sha, size, verified: true });
      }),
    );
  }
  return { promoted, missing, corrupt };
}
