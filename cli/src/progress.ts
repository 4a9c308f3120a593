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
      format: `${label} {phase} [{bar}] {files} files  {done}/{total}  {rate}`,
      stream: process.stderr,
      hideCursor: true,
      clearOnComplete: true,
      barsize: 20,
      fps: 8,
    },
    cliProgress.Presets.shades_classic,
  );
  const t0 = Date.now();
  bar.start(1, 0, { phase: 'scan', files: 0, done: '0 B', total: '?', rate: '' });
  return {
    update(p) {
      const secs = Math.max((Date.now() - t0) / 1000, 0.001);
      bar.setTotal(Math.max(p.totalBytes ?? p.bytes, 1));
      bar.update(p.bytes, {
        phase: p.phase,
        files: p.totalFiles === undefined ? String(p.files ?? 0) : `${p.files ?? 0}/${p.totalFiles}`,
        done: formatBytes(p.bytes),
        total: p.totalBytes === undefined ? '?' : formatBytes(p.totalBytes),
        rate: `${formatBytes(p.bytes / secs)}/s`,
      });
    },
    stop(summary) {
      bar.stop();
      if (summary) log.info(summary);
    },
  };
}
