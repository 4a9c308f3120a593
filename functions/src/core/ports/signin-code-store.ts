/**
 * One-time sign-in codes: only the sha256 is stored. `consume` is a compare-and-set: of two uses of one code,
 * exactly one gets the record; an expired or used code gives null.
 */
export interface SigninCodeStore {
  create(c: { hash: string; userId: string; scopes: string[]; expiresAt: string }): Promise<void>;
  consume(hash: string, now: string): Promise<{ userId: string; scopes: string[] } | null>;
}
