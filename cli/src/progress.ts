import cliProgress from 'cli-progress';
import { formatBytes } from './format.ts';
import type { Logger } from './logger.ts';

export interface Progress {
  update(p: { phase: string; files?: number; totalFiles?: number; bytes: number; totalBytes?: number }): void;
  stop(summary?: string): void;
}

/** A live line on a TTY (files, bytes, rate); nothing when quiet or piped. */
export function startProgress(log: Logger, label: string): Progress {
  if (!log.progress) return { update() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: `${label} {phase} [{bar}] {count}  {doneH}/{totalH}  {rate}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 20,
      fps: 8,
    },
    cliProgress.Presets.shades_classic,
  );
  // The rate is per phase (hashing, uploading), so it restarts when the phase changes.
  let t0 = Date.now();
  let phase = 'scan';
  bar.start(1, 0, { phase, count: '', doneH: '0 B', totalH: '?', rate: '' });
  return {
    update(p) {
      if (p.phase !== phase) {
        phase = p.phase;
        t0 = Date.now();
      }
      const secs = Math.max((Date.now() - t0) / 1000, 0.001);
      bar.setTotal(Math.max(p.totalBytes ?? p.bytes, 1));
      const count =
        p.files === undefined ? '' : `${p.files}${p.totalFiles === undefined ? '' : `/${p.totalFiles}`} files`;
      bar.update(p.bytes, {
        phase: p.phase,
        count,
        doneH: formatBytes(p.bytes),
        totalH: p.totalBytes === undefined ? '?' : formatBytes(p.totalBytes),
        rate: `${formatBytes(p.bytes / secs)}/s`,
      });
    },
    stop(summary) {
      bar.stop();
      if (summary) log.info(summary);
    },
  };
}
