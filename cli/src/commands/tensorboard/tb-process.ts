import { type ChildProcess, spawn } from 'node:child_process';
import { accessSync, constants, statSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/** The first executable `tensorboard` on PATH, or null. */
export function findTensorboard(pathVar: string | undefined = process.env.PATH): string | null {
  for (const dir of (pathVar ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, 'tensorboard');
    try {
      accessSync(p, constants.X_OK);
      if (statSync(p).isFile()) return p;
    } catch {
      // Not here.
    }
  }
  return null;
}

export interface TensorboardChild {
  /** Resolves when it exits (or could not start), with what ended it. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once it is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL now. */
  kill(): void;
}

/**
 * Starts `tensorboard --logdir DIR --port N` as a child whose output (stdout and stderr) goes to this process's
 * stderr, so stdout keeps only the command's own lines. Same process group: a Ctrl-C at the terminal reaches it too.
 */
export function startTensorboard(bin: string, logdir: string, port: number): TensorboardChild {
  const child: ChildProcess = spawn(bin, ['--logdir', logdir, '--port', String(port)], {
    stdio: ['ignore', 2, 2],
  });
  let gone = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => {
      gone = true;
      resolve({ code: null, signal: null, error });
    });
    child.once('exit', (code, signal) => {
      gone = true;
      resolve({ code, signal });
    });
  });
  return {
    exited,
    kill: () => {
      if (!gone) child.kill('SIGKILL');
    },
    stop: async (graceMs = 5000) => {
      if (gone) return;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<'late'>((resolve) => {
        timer = setTimeout(() => resolve('late'), graceMs);
      });
      const how = await Promise.race([exited, late]);
      clearTimeout(timer);
      if (how === 'late') {
        child.kill('SIGKILL');
        await exited;
      }
    },
  };
}
