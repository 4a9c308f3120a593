import { spawn } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { constants } from 'node:os';

export interface ChildResult {
  exitCode: number | null;
  signal: NodeJS.Signals | null;
  /** A signal the CLI received and forwarded (the run counts as stopped). */
  stoppedBy: NodeJS.Signals | null;
  /** Why the output file stopped receiving output (disk full…); the terminal still got everything. */
  outputError?: string;
}

export interface ChildOptions {
  command: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** File that receives stdout and stderr, interleaved as they arrive. */
  outputFile: string;
  /** Echo the script's output to the terminal (always, like Studio; --quiet only silences studio-lite itself). */
  echo: boolean;
  /** Where the script's stdout is echoed (default stdout; stderr when stdout carries `run --json`). */
  stdoutEcho?: NodeJS.WritableStream;
  /** Forward this process's SIGINT/SIGTERM/SIGHUP to the script (default true; a worker handles signals itself). */
  forwardSignals?: boolean;
  /** Start the script as this user and group (`worker --run-as`); default: this process's. */
  uid?: number;
  gid?: number;
  /** Called once the script runs, with a function that signals its whole process group. */
  onStart?: (signal: (sig: NodeJS.Signals) => void) => void;
}

/**
 * Runs the script in its own process group, tees its output to the terminal and the output file, and forwards
 * SIGINT/SIGTERM/SIGHUP (a second signal escalates to SIGKILL). Resolves when the script has exited and the output
 * file is flushed.
 */
export function runChild(o: ChildOptions): Promise<ChildResult> {
  return new Promise((resolve, reject) => {
    const out = createWriteStream(o.outputFile, { flags: 'a', mode: 0o600 });
    let outputError: string | undefined;
    // A full disk must not kill the run: the script keeps going, its output still reaches the terminal.
    out.on('error', (err: NodeJS.ErrnoException) => {
      outputError ??= `output file ${o.outputFile}: ${err.code ?? err.message}`;
    });
    const finishOutput = (then: () => void) => {
      if (outputError || out.destroyed) then();
      else out.end(() => then());
    };
    const child = spawn(o.command, o.args, {
      cwd: o.cwd,
      env: o.env,
      stdio: [o.forwardSignals === false ? 'ignore' : 'inherit', 'pipe', 'pipe'],
      detached: true,
      ...(o.uid !== undefined ? { uid: o.uid } : {}),
      ...(o.gid !== undefined ? { gid: o.gid } : {}),
    });
    let stoppedBy: NodeJS.Signals | null = null;
    let signals = 0;
    const forward = (sig: NodeJS.Signals) => {
      stoppedBy ??= sig;
      signals += 1;
      const send = signals > 1 ? 'SIGKILL' : sig;
      try {
        if (child.pid) process.kill(-child.pid, send);
      } catch {
        // already gone
      }
    };
    o.onStart?.((sig) => {
      stoppedBy ??= sig;
      try {
        if (child.pid) process.kill(-child.pid, sig);
      } catch {
        // already gone
      }
    });
    const forwarded = o.forwardSignals === false ? [] : (['SIGINT', 'SIGTERM', 'SIGHUP'] as const);
    const handlers = forwarded.map((s) => {
      const h = () => forward(s);
      process.on(s, h);
      return [s, h] as const;
    });
    const tee = (src: NodeJS.ReadableStream, dst: NodeJS.WritableStream) => {
      src.on('data', (chunk: Buffer) => {
        if (!outputError) out.write(chunk);
        if (o.echo) dst.write(chunk);
      });
    };
    tee(child.stdout as NodeJS.ReadableStream, o.stdoutEcho ?? process.stdout);
    tee(child.stderr as NodeJS.ReadableStream, process.stderr);
    child.on('error', (err) => {
      for (const [s, h] of handlers) process.off(s, h);
      finishOutput(() => reject(err));
    });
    child.on('close', (code, signal) => {
      for (const [s, h] of handlers) process.off(s, h);
      finishOutput(() => resolve({ exitCode: code, signal, stoppedBy, ...(outputError ? { outputError } : {}) }));
    });
  });
}

/** Shell convention: 128 + signal number for a script killed by a signal. */
export function exitCodeFor(r: ChildResult): number {
  if (r.exitCode !== null) return r.exitCode;
  const n = r.signal ? constants.signals[r.signal] : undefined;
  return n ? 128 + n : 1;
}
