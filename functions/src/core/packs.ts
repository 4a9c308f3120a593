import { createHash, randomBytes } from 'node:crypto';
import { StudioError } from '../contract/errors.ts';
import type { Principal } from '../contract/model.ts';
import { LIMITS, type RegisterPackBody } from '../contract/schemas.ts';
import type { PlannedPack, RegisterPackResponse } from '../contract/wire.ts';
import { recordPackedBlobs } from './blob-records.ts';
import type { CoreDeps } from './context.ts';
import { isConfined } from './job-blobs.ts';
import { blobKey, packClaimKey, packClaimPrefix, packKey } from './keys.ts';
import type { BlobRecord } from './model.ts';

/**
 * Packs: small blobs travel and live together (issue 15). A plan groups the missing blobs up to
 * LIMITS.packMaxBlobSize into packs of at most LIMITS.packMaxMembers members / LIMITS.packMaxBytes; the client PUTs
 * each pack's body (the members concatenated) through one signed URL, then registers it. Registration checks the
 * pack once (the disk store hashed every member on arrival; on GCS the backend reads the pack once and hashes every
 * member) and records, for each member not already recorded, where it lives: `BlobRecord.pack` = {id, offset}. A
 * commit then finds every member in the blob index and reads no storage at all, whatever the file count.
 *
 * A pack's id is sha256(nonce, members), the nonce drawn at planning: every plan makes a new key (so the signed PUT
 * can be create-only and a pack is never rewritten), and a registration names exactly the list that was signed.
 * A pack can be registered only while it is fresh (REGISTER_WINDOW after it was written): blob GC deletes a pack
 * with no recorded member only once it is older than that window plus the grace, so no registration can race it.
 */

/** How long after its upload a pack may still be registered, beyond the signed URL's own lifetime. */
export const PACK_REGISTER_SLACK_SECONDS = 600;

export function registerWindowSeconds(deps: CoreDeps): number {
  return deps.urlTtlSeconds + PACK_REGISTER_SLACK_SECONDS;
}

/**
 * The id of a pack with these members under this nonce; `owner` (a job token's id) makes a pack planned by a job
 * token registrable by that token alone, whoever else learns the nonce.
 */
export function packIdOf(nonce: string, members: { sha256: string; size: number }[], owner = ''): string {
  const h = createHash('sha256').update(`studio-lite pack v1\n${nonce}\n${owner}\n`);
  for (const m of members) h.update(`${m.sha256} ${m.size}\n`);
  return h.digest('hex');
}

/** Groups small missing blobs into packs and signs one PUT per pack. */
export async function planPacks(
  deps: CoreDeps,
  p: Principal,
  team: string,
  small: { sha256: string; size: number }[],
  expiresAt: Date,
): Promise<PlannedPack[]> {
  const out: PlannedPack[] = [];
  let members: { sha256: string; size: number }[] = [];
  let bytes = 0;
  const flush = async () => {
    if (members.length === 0) return;
    const nonce = randomBytes(16).toString('hex');
    const id = packIdOf(nonce, members, ownerOf(p));
    const request = await deps.blobs.signPackUpload(packKey(team, id), id, members, expiresAt);
    out.push({ id, nonce, members, request });
    members = [];
    bytes = 0;
  };
  for (const b of small) {
    if (members.length > 0 && (members.length >= LIMITS.packMaxMembers || bytes + b.size > LIMITS.packMaxBytes)) {
      await flush();
    }
    members.push({ sha256: b.sha256, size: b.size });
    bytes += b.size;
  }
  await flush();
  return out;
}

/** Who alone may register a pack this caller plans: a job token itself; anyone of the team for other callers. */
const ownerOf = (p: Principal) => (isConfined(p) ? p.tokenId : '');

/**
 * Hashes a pack's body as it streams past, member by member: `onMismatch` is called as soon as a member's bytes end
 * and do not match its sha256; `end()` answers how many members the body was too short for. The one place the
 * member boundaries are walked (the local host on arrival, the backend on registration).
 */
export function packHasher(
  members: readonly { sha256: string; size: number }[],
  onMismatch: (sha256: string, index: number) => void,
) {
  let i = 0;
  let left = members[0]?.size ?? 0;
  let hash = createHash('sha256');
  const close = () => {
    while (i < members.length && left === 0) {
      const m = members[i] as { sha256: string };
      if (hash.digest('hex') !== m.sha256) onMismatch(m.sha256, i);
      i += 1;
      left = members[i]?.size ?? 0;
      hash = createHash('sha256');
    }
  };
  close();
  return {
    update(chunk: Uint8Array): void {
      let c = chunk;
      while (c.length > 0 && i < members.length) {
        const n = Math.min(left, c.length);
        hash.update(c.subarray(0, n));
        c = c.subarray(n);
        left -= n;
        close();
      }
    },
    /** Members the body did not reach. */
    missing: () => members.slice(i),
  };
}

/** Hashes every member of a stored pack in one read; the sha256s that do not match (or are cut short). */
async function badMembers(deps: CoreDeps, key: string, members: { sha256: string; size: number }[]): Promise<string[]> {
  const bad: string[] = [];
  const hasher = packHasher(members, (sha) => bad.push(sha));
  for await (const chunk of await deps.blobs.read(key)) hasher.update(chunk);
  return [...bad, ...hasher.missing().map((m) => m.sha256)];
}

/**
 * Registers an uploaded pack (the caller's write access to the experiment is checked by the caller's route, like a
 * plan): checks it and records where its members live. Throws E_BAD_REQUEST (id does not match the members),
 * E_BLOB_MISSING (never uploaded, or too old to register: plan and upload again), E_SIZE_MISMATCH, E_HASH_MISMATCH
 * (the pack is deleted). A confined caller (a job token) also gets a claim naming the members, which is what lets its
 * commit name them (core/job-blobs.ts).
 */
export async function registerPack(
  deps: CoreDeps,
  p: Principal,
  team: string,
  body: RegisterPackBody,
): Promise<RegisterPackResponse> {
  const { id, nonce, members } = body;
  if (packIdOf(nonce, members, ownerOf(p)) !== id) {
    throw new StudioError('E_BAD_REQUEST', `pack ${id} was not planned with these members`);
  }
  const key = packKey(team, id);
  const total = members.reduce((n, m) => n + m.size, 0);
  const stat = await deps.blobs.stat(key);
  const age = stat ? deps.now().getTime() - Date.parse(stat.createdAt) : 0;
  if (!stat || age > registerWindowSeconds(deps) * 1000) {
    throw new StudioError('E_BLOB_MISSING', `pack ${id} was ${stat ? 'uploaded too long ago' : 'never uploaded'}`, {
      details: { missing: members.slice(0, 20).map((m) => m.sha256) },
    });
  }
  if (stat.size !== total) {
    await deps.blobs.delete(key);
    throw new StudioError('E_SIZE_MISMATCH', `pack ${id} holds ${stat.size} bytes, its members ${total}`);
  }
  if (!deps.blobs.verifiesOnUpload) {
    const bad = await badMembers(deps, key, members);
    if (bad.length > 0) {
      await deps.blobs.delete(key);
      throw new StudioError('E_HASH_MISMATCH', `${bad.length} member(s) of pack ${id} do not match their sha256`, {
        details: { corrupt: bad.slice(0, 20) },
      });
    }
  }
  const records: BlobRecord[] = [];
  let offset = 0;
  const seen = new Set<string>();
  for (const m of members) {
    if (!seen.has(m.sha256)) records.push({ sha256: m.sha256, size: m.size, verified: true, pack: { id, offset } });
    seen.add(m.sha256);
    offset += m.size;
  }
  await recordPackedBlobs(deps, team, records);
  if (isConfined(p)) {
    const claim = Buffer.from(JSON.stringify({ id, sha256s: [...seen] }));
    await deps.blobs.put(packClaimKey(team, p.tokenId, id), claim, 'application/json');
  }
  // Nothing here says which members the team had already: a job token must not learn it (core/job-blobs.ts).
  return { id, members: members.length };
}

/** The sha256s a confined caller proved it holds by registering packs (its claims). */
export async function claimedBlobs(deps: CoreDeps, p: Principal, team: string): Promise<Set<string>> {
  const out = new Set<string>();
  const prefix = packClaimPrefix(team, p.tokenId);
  for (let after: string | undefined; ; ) {
    const page = await deps.blobs.list(prefix, { after, limit: 1000 });
    if (page.length === 0) break;
    after = page[page.length - 1]?.key;
    for (const o of page) {
      const claim = JSON.parse(Buffer.from(await deps.blobs.get(o.key)).toString('utf8')) as { sha256s: string[] };
      for (const sha of claim.sha256s) out.add(sha);
    }
  }
  return out;
}

/** The bytes of one blob, wherever it lives (its own object, or a range of its pack). Throws E_NOT_FOUND. */
export async function readBlob(
  deps: CoreDeps,
  team: string,
  blob: { sha256: string; size: number; pack?: { id: string; offset: number } | undefined },
): Promise<AsyncIterable<Uint8Array>> {
  if (!blob.pack) return deps.blobs.read(blobKey(team, blob.sha256));
  return deps.blobs.read(packKey(team, blob.pack.id), { offset: blob.pack.offset, length: blob.size });
}
