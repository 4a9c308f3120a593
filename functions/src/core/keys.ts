/**
 * Storage keys are built here only, from ids and hashes; client-supplied paths never become keys. One level of
 * 256-way fan-out (as git's objects/ab/…): two levels made a first capture of 20,000 small files create ~17,000
 * folders on disk.
 */
export function blobKey(team: string, sha256: string): string {
  return `teams/${team}/blobs/sha256/${sha256.slice(0, 2)}/${sha256}`;
}

/** The prefix under which every blob of a team is stored (blob GC lists it). */
export function blobPrefix(team: string): string {
  return `teams/${team}/blobs/sha256/`;
}

/** Splits a key produced by blobKey() back into team and sha256; null for other keys. */
export function parseBlobKey(key: string): { team: string; sha256: string } | null {
  const m = /^teams\/([^/]+)\/blobs\/sha256\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(key);
  if (!m || !(m[3] as string).startsWith(m[2] as string)) return null;
  return { team: m[1] as string, sha256: m[3] as string };
}

/**
 * Where a job token's uploads wait until its commit promotes them to blobKey (core/job-blobs.ts): one folder per
 * token, so a job proves it holds the bytes of every blob it names that it may not already read.
 */
export function stagingKey(team: string, tokenId: string, sha256: string): string {
  return `teams/${team}/uploads/${tokenId}/${sha256.slice(0, 2)}/${sha256}`;
}

/** The prefix of every staged upload of a team (blob GC deletes abandoned ones). */
export function stagingPrefix(team: string): string {
  return `teams/${team}/uploads/`;
}

/** A pack id: 64 hex, the sha256 of the plan's nonce and member list (core/packs.ts). */
export const PACK_ID_RE = /^[0-9a-f]{64}$/;

/** The object holding a pack of small blobs (core/packs.ts); one level of fan-out like blobs. */
export function packKey(team: string, id: string): string {
  return `teams/${team}/packs/${id.slice(0, 2)}/${id}`;
}

/** The prefix under which every pack of a team is stored (blob GC lists it). */
export function packPrefix(team: string): string {
  return `teams/${team}/packs/`;
}

/** Splits a key produced by packKey() back into team and id; null for other keys. */
export function parsePackKey(key: string): { team: string; id: string } | null {
  const m = /^teams\/([^/]+)\/packs\/([0-9a-f]{2})\/([0-9a-f]{64})$/.exec(key);
  if (!m || !(m[3] as string).startsWith(m[2] as string)) return null;
  return { team: m[1] as string, id: m[3] as string };
}

/**
 * A confined caller's record of a pack it uploaded and registered: the sha256s it proved it holds (core/packs.ts),
 * which its commit may then name like its own staged uploads. Under its staging folder, so GC treats it the same.
 */
export function packClaimKey(team: string, tokenId: string, id: string): string {
  return `teams/${team}/uploads/${tokenId}/packs/${id}.json`;
}

/** The prefix of a confined caller's pack claims. */
export function packClaimPrefix(team: string, tokenId: string): string {
  return `teams/${team}/uploads/${tokenId}/packs/`;
}
