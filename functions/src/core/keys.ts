/** Storage keys are built here only, from ids and hashes; client-supplied paths never become keys. */
export function blobKey(team: string, sha256: string): string {
  return `teams/${team}/blobs/sha256/${sha256.slice(0, 2)}/${sha256.slice(2, 4)}/${sha256}`;
}
