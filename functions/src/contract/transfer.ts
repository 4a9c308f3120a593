/** Requests a client performs itself against storage: the API hands them out, the client sends them. */

/** A request the client performs itself against storage (a signed URL). */
export interface SignedRequest {
  method: 'PUT' | 'GET';
  url: string;
  /** Headers the client must send exactly as given (they are part of the signature). */
  headers: Record<string, string>;
  expiresAt: string;
}

/**
 * A signed POST that opens a resumable upload session: sent with an empty body and these headers exactly, it answers
 * 201 whose `Location` is the session URI. Chunks are then PUT there with `Content-Range: bytes a-b/total`
 * (multiples of 256 KiB except the last); an empty PUT with `bytes *\/total` asks how much is stored (308 +
 * `Range: bytes=0-N`, or 200/201 once complete; 404/410 when the session is gone).
 */
export interface ResumableStartRequest {
  method: 'POST';
  url: string;
  /** Headers the client must send exactly as given (they are part of the signature). */
  headers: Record<string, string>;
  expiresAt: string;
}

/**
 * The one request that fetches exactly one blob from a download answer (`DownloadResponse`): its own signed GET, or
 * the signed range of its pack that holds it (`offset`: where its bytes start in that answer; the caller cuts `size`
 * bytes there). Null when the answer does not hold it. A packed empty blob needs no request at all (`size` 0).
 */
export function blobRequest(
  res: {
    blobs: { sha256: string; size: number; request: SignedRequest }[];
    packs?: { request: SignedRequest; members: { sha256: string; size: number; offset: number }[] }[];
  },
  sha256: string,
): { url: string; headers: Record<string, string>; size: number; offset?: number } | null {
  const own = res.blobs.find((b) => b.sha256 === sha256);
  if (own) return { url: own.request.url, headers: own.request.headers, size: own.size };
  for (const p of res.packs ?? []) {
    const m = p.members.find((x) => x.sha256 === sha256);
    if (!m) continue;
    // The request is signed for its members' bytes (this one alone when it was the only one asked for).
    const first = Math.min(...p.members.map((x) => x.offset));
    return { url: p.request.url, headers: p.request.headers, size: m.size, offset: m.offset - first };
  }
  return null;
}

/** The blob's bytes from the answer to a blobRequest. */
export function blobBytes(r: { size: number; offset?: number }, body: Uint8Array): Uint8Array {
  if (r.size === 0) return new Uint8Array(0);
  if (r.offset !== undefined) return body.subarray(r.offset, r.offset + r.size);
  return body;
}
