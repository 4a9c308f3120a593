/**
 * Storage keys are built here only, from ids and hashes; client-supplied paths never become keys. One level of
 * 256-way fan-out (as git's objects/ab/…): two levels made a first capture of 20,000 small files create ~17,000
 * folders on disk.
 */
export function blobKey(team: string, sha256: string): string {
  return `teams/${team}/blobs/sha256/${sha256.slice(0, 2)}/${sha256}`;
}
