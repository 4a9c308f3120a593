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
