import { mkdirSync, readFileSync } from 'node:fs';
import { cliPaths } from './home/cli-home.ts';
import { writePrivateFile } from './home/private-files.ts';

/**
 * The team to act in when none is named, per backend ($STUDIOML_HOME/team.json): set by `team use`, by the last
 * successful `--team`, and by `team create` when nothing was remembered yet, so creating a second team does not
 * make every command ambiguous. --team, $STUDIOML_TEAM and config `team` still win.
 */
type Memory = Record<string, string>;

const file = (home: string) => cliPaths(home).team;
const backendKey = (apiUrl: string | null) => (apiUrl ? apiUrl.replace(/\/$/, '') : 'embedded');

function read(home: string): Memory {
  try {
    const v = JSON.parse(readFileSync(file(home), 'utf8')) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Memory) : {};
  } catch {
    return {};
  }
}

export function rememberedTeam(home: string, apiUrl: string | null): string | null {
  const t = read(home)[backendKey(apiUrl)];
  return typeof t === 'string' && t !== '' ? t : null;
}

/** Remembers `team` for this backend; with `onlyIfUnset`, keeps a team already remembered. */
export function rememberTeam(home: string, apiUrl: string | null, team: string, onlyIfUnset = false): void {
  const m = read(home);
  const k = backendKey(apiUrl);
  if (m[k] === team || (onlyIfUnset && m[k])) return;
  m[k] = team;
  mkdirSync(home, { recursive: true, mode: 0o700 });
  writePrivateFile(file(home), `${JSON.stringify(m, null, 2)}\n`);
}
