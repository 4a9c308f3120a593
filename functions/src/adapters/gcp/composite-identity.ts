import type { Identity } from '../../core/ports.ts';
import { TOKEN_RE } from '../../core/tokens.ts';
import { JWT_RE } from './firebase-identity.ts';

/**
 * A deployment's identity: `slt_…` bearer tokens (personal, worker, job) go to the token identity, anything shaped
 * like a JWT to Firebase; whatever else (missing, malformed) is refused by the token identity.
 */
export function createCompositeIdentity(parts: { tokens: Identity; firebase: Identity }): Identity {
  return {
    authenticate(bearer) {
      if (bearer && !TOKEN_RE.test(bearer) && JWT_RE.test(bearer)) return parts.firebase.authenticate(bearer);
      return parts.tokens.authenticate(bearer);
    },
  };
}
