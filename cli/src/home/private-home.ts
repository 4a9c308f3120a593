import { cliPaths } from './cli-home.ts';
import { mkdirPrivate, tightenHome } from './private-files.ts';

/**
 * Makes sure $STUDIOML_HOME exists (0700) and is private: a home made under a permissive umask or by an older
 * version is tightened once, with one notice line on stderr.
 */
export async function ensurePrivateHome(home: string): Promise<void> {
  mkdirPrivate(home);
  // The folders other modules fill are created private first, so whatever they write below is unreachable to
  // other users even where a module gives its own entries looser modes.
  const p = cliPaths(home);
  for (const dir of [p.store, p.blobcache, p.uploads, p.experiments]) mkdirPrivate(dir);
  const changed = await tightenHome(home);
  if (changed > 0) {
    process.stderr.write(
      `studio-lite: notice: ${home} was readable by other users; made private (${changed} entries now 0700/0600)\n`,
    );
  }
}
