import { statfsSync } from 'node:fs';
import { StudioError } from './errors.ts';

/** Whether an error is a full disk or an exhausted quota (file system or SQLite). */
export function isNoSpace(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL';
}

/**
 * A full disk as its own error (E_NO_SPACE) naming the path, how much was needed and how much is free; any other
 * error is returned unchanged.
 */
export function noSpace(err: unknown, path: string | null, needed: number | null): unknown {
  if (!isNoSpace(err)) return err;
  const at = path ?? (err as { path?: string }).path ?? null;
  let free: number | null = null;
  try {
    if (at) {
      const fs = statfsSync(at);
      free = fs.bavail * fs.bsize;
    }
  } catch {}
  const parts = [needed === null ? null : `needed ${needed} bytes`, free === null ? null : `${free} bytes free`];
  const figures = parts.filter(Boolean).join(', ');
  return new StudioError(
    'E_NO_SPACE',
    `no space left on the device${at ? ` of ${at}` : ''}${figures ? ` (${figures})` : ''}`,
    { cause: err, details: { path: at, needed, free } },
  );
}
