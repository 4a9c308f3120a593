import { readFileSync, rmSync } from 'node:fs';
import { cliPaths } from './cli-home.ts';
import { writePrivateFile } from './private-files.ts';

/** `$STUDIOML_HOME/ui-server.json`: the local server `ui` or `serve` runs for this home, so `ui` reuses it. */
export interface UiServerRecord {
  url: string;
  pid: number;
}

const file = (home: string) => cliPaths(home).uiServer;

export function recordUiServer(home: string, url: string): () => void {
  writePrivateFile(file(home), `${JSON.stringify({ url, pid: process.pid })}\n`);
  return () => {
    // Only our own record: a later server of the same home may have replaced it.
    if (readUiServer(home)?.pid === process.pid) rmSync(file(home), { force: true });
  };
}

/** The recorded server when its process still runs (the caller still checks that it answers). */
export function readUiServer(home: string): UiServerRecord | null {
  try {
    const r = JSON.parse(readFileSync(file(home), 'utf8')) as UiServerRecord;
    process.kill(r.pid, 0);
    return r;
  } catch {
    return null;
  }
}
