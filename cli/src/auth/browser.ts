import { spawn } from 'node:child_process';
import { delimiter } from 'node:path';

/**
 * The command that opens `url`: `command` (--browser-command) or $BROWSER (its first entry) split on spaces, with
 * `%s` replaced by the URL or the URL appended; otherwise the platform's opener. Null when there is nothing to run
 * (Linux without a display and no command given).
 */
export function browserCommand(
  url: string,
  command: string | undefined,
  env: NodeJS.ProcessEnv = process.env,
  platform: NodeJS.Platform = process.platform,
): { cmd: string; args: string[] } | null {
  const chosen = command ?? env.BROWSER?.split(delimiter).find((s) => s.trim());
  if (chosen) {
    const words = chosen.trim().split(/\s+/);
    const argv = words.some((w) => w.includes('%s')) ? words.map((w) => w.replaceAll('%s', url)) : [...words, url];
    return { cmd: argv[0] as string, args: argv.slice(1) };
  }
  if (platform === 'darwin') return { cmd: 'open', args: [url] };
  // rundll32 takes the URL as one argument; `cmd /c start` would need every & escaped.
  if (platform === 'win32') return { cmd: 'rundll32', args: ['url.dll,FileProtocolHandler', url] };
  if (!env.DISPLAY && !env.WAYLAND_DISPLAY) return null;
  return { cmd: 'xdg-open', args: [url] };
}

/** Starts the browser without waiting for it; resolves false when there is none or it could not be started. */
export function openBrowser(url: string, command: string | undefined): Promise<boolean> {
  const c = browserCommand(url, command);
  if (!c) return Promise.resolve(false);
  return new Promise((resolve) => {
    const child = spawn(c.cmd, c.args, { detached: true, stdio: 'ignore' });
    child.once('error', () => resolve(false));
    child.once('spawn', () => {
      child.unref();
      resolve(true);
    });
  });
}
