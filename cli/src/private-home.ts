import { mkdirPrivate, tightenHome } from '@studio-lite/functions/adapters/local/private-files.ts';

/**
 * Makes sure $STUDIOML_HOME exists (0700) and is private: a home made under a permissive umask or by an older
 * version is tightened once, with one notice line on stderr.
 */
export async function ensurePrivateHome(home: string): Promise<void> {
  mkdirPrivate(home);
  const changed = await tightenHome(home);
  if (changed > 0) {
    process.stderr.write(
      `studio-lite: notice: ${home} was readable by other users; made private (${changed} entries now 0700/0600)\n`,
    );
  }
}
