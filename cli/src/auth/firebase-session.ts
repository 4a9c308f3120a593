import { StudioError } from '@studio-lite/functions/contract';
import type { TokenSource } from '../api-client.ts';
import { refreshFirebaseToken } from './identity-toolkit.ts';
import { type FirebaseLogin, readSavedLogin, saveLogin } from './saved-login.ts';

/** Refresh this long before the ID token expires, so a request never leaves with a token about to lapse. */
export const REFRESH_MARGIN_MS = 60_000;

/**
 * The bearer token of a Google sign-in: the saved Firebase ID token, refreshed through securetoken when it expires
 * within a minute (one refresh at a time), with login.json rewritten atomically (0600). Several studio-lite
 * processes may share the file: a token another process already refreshed is taken from disk instead.
 */
export class FirebaseSession implements TokenSource {
  private pending: Promise<string> | undefined;

  constructor(
    private readonly home: string,
    private login: FirebaseLogin,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<string> {
    if (this.fresh(this.login)) return this.login.id_token;
    return this.refresh();
  }

  /** A new ID token now (also after the server said the current one expired). */
  refresh(): Promise<string> {
    this.pending ??= this.doRefresh().finally(() => {
      this.pending = undefined;
    });
    return this.pending;
  }

  private fresh(l: FirebaseLogin): boolean {
    return Date.parse(l.expires_at) - this.now() > REFRESH_MARGIN_MS;
  }

  private sameSession(l: ReturnType<typeof readSavedLogin>): l is FirebaseLogin {
    return l?.kind === 'firebase' && l.uid === this.login.uid && l.api_url === this.login.api_url;
  }

  private async doRefresh(): Promise<string> {
    const onDisk = readSavedLogin(this.home);
    if (this.sameSession(onDisk) && onDisk.id_token !== this.login.id_token && this.fresh(onDisk)) {
      this.login = onDisk;
      return onDisk.id_token;
    }
    const { api_url: url } = this.login;
    let t: Awaited<ReturnType<typeof refreshFirebaseToken>>;
    try {
      t = await refreshFirebaseToken(this.login.secure_token_url, this.login.api_key, this.login.refresh_token);
    } catch (err) {
      if (err instanceof StudioError && err.code === 'E_UNAUTHENTICATED') {
        throw new StudioError(
          'E_UNAUTHENTICATED',
          `your sign-in to ${url} has expired or was revoked (${err.message}): run \`studio-lite login ${url}\` again`,
          { cause: err },
        );
      }
      throw err;
    }
    this.login = {
      ...this.login,
      id_token: t.idToken,
      refresh_token: t.refreshToken,
      expires_at: new Date(this.now() + t.expiresIn * 1000).toISOString(),
    };
    // Rewrite only while the file still holds this sign-in: a logout or another login in the meantime wins.
    if (this.sameSession(readSavedLogin(this.home))) saveLogin(this.home, this.login);
    return this.login.id_token;
  }
}
