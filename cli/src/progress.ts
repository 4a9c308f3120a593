import cliProgress from 'cli-progress';
import { formatBytes } from './format.ts';
import type { Logger } from './logger.ts';

export interface Progress {
  update(p: { phase: string; files?: number; totalFiles?: number; bytes: number; totalBytes?: number }): void;
  stop(summary?: string): void;
}

const DELAY_MS = 250;

/** A live line on a TTY (files, bytes, rate); nothing when quiet or piped. */
export function startProgress(log: Logger, label: string): Progress {
  if (!log.progress) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} {phase} [{bar}] {count}  {doneH}{totalH}  {rate}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 20,
      fps: 8,
    },
    cliProgress.Presets.shades_classic,
  );
  // Nothing is drawn for a capture that ends within DELAY_MS (most re-captures), so short runs print no bar at all.
  const began = Date.now();
  let started = false;
  // The rate is per phase (hashing, uploading) and shown only after a second of it: files the stat cache vouches for
  // count as hashed at once, which made the first instants' rate absurd.
  let t0 = began;
  let phase = '';
  return {
    update(p) {
      if (p.phase !== phase) {
        phase = p.phase;
        t0 = Date.now();
      }
      if (!started) {
        if (Date.now() - began < DELAY_MS) return;
        started = true;
        bar.start(1, 0, { phase, count: '', doneH: '', totalH: '', rate: '' });
      }
      const secs = (Date.now() - t0) / 1000;
      bar.setTotal(Math.max(p.totalBytes ?? p.bytes, 1));
      const count =
        p.files === undefined ? '' : `${p.files}${p.totalFiles === undefined ? '' : `/${p.totalFiles}`} files`;
      bar.update(p.bytes, {
        phase: p.phase,
        count,
        doneH: formatBytes(p.bytes),
        totalH: p.totalBytes === undefined ? '' : `/${formatBytes(p.totalBytes)}`,
        rate: secs >= 1 ? `${formatBytes(p.bytes / secs)}/s` : '',
      });
    },
    stop(summary) {
      if (started) bar.stop();
      if (summary) log.info(summary);
    },
  };
}
