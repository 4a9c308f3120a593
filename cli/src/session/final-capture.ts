import type { CaptureOutcome, CaptureTarget } from '../artifacts/capture-artifact.ts';
import type { Logger } from '../logger.ts';

/** The final capture's result: warnings for skipped files, and the first failure (the run's record keeps going). */
export interface FinalCapture {
  warnings: string[];
  failure: { tag: string; error: Error } | null;
}

/**
 * Captures every mutable target once more after the script exited. A failure is a warning on the run (its status
 * stays what the script did); the first one is returned so the CLI can exit with its code. With `deferSignals`, while
 * this runs the first SIGINT/SIGTERM only warns and a second one aborts at once.
 */
export async function finalCapture(
  capture: (t: CaptureTarget) => Promise<CaptureOutcome>,
  targets: CaptureTarget[],
  log: Logger,
  deferSignals: boolean,
): Promise<FinalCapture> {
  const out: FinalCapture = { warnings: [], failure: null };
  const all = async () => {
    for (const t of targets) {
      try {
        out.warnings.push(...(await capture(t)).skipped);
      } catch (err) {
        const msg = `final capture of ${t.tag} failed: ${(err as Error).message}`;
        log.warn(msg);
        out.warnings.push(msg);
        out.failure ??= { tag: t.tag, error: err as Error };
      }
    }
  };
  await (deferSignals ? withSignalsDeferred(log, all) : all());
  return out;
}

async function withSignalsDeferred(log: Logger, fn: () => Promise<void>): Promise<void> {
  let count = 0;
  const h = () => {
    count += 1;
    if (count === 1) log.warn('finishing the final capture; signal again to abort it');
    else {
      log.warn('final capture aborted');
      process.exit(130);
    }
  };
  process.on('SIGINT', h);
  process.on('SIGTERM', h);
  try {
    await fn();
  } finally {
    process.off('SIGINT', h);
    process.off('SIGTERM', h);
  }
}
