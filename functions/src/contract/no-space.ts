import { statfsSync } from 'node:fs';
import { StudioError } from '../contract/errors.ts';

/** Bytes available to this user on the device of `path`, or null when unknown. */
function freeBytes(path: string | null): number | null {
  if (!path) return null;
  try {
    const fs = statfsSync(path);
    return fs.bavail * fs.bsize;
  } catch {
    return null;
  }
}

/** Below this much free space an SQLite "disk I/O error" is taken for what it nearly always is then: a full disk. */
const NEARLY_FULL_BYTES = 1 << 20;

/**
 * Whether an error is a full disk or an exhausted quota: ENOSPC/EDQUOT, SQLITE_FULL, or an SQLite I/O error (it
 * cannot grow its WAL or shared-memory file) on a device of `path` that has (almost) no space left.
 */
export function isNoSpace(err: unknown, path: string | null = null): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  if (code === 'ENOSPC' || code === 'EDQUOT' || code === 'SQLITE_FULL') return true;
  if (typeof code !== 'string' || !code.startsWith('SQLITE_IOERR')) return false;
  const free = freeBytes(path);
  return free !== null && free < NEARLY_FULL_BYTES;
}

const mib = (n: number) => `${(n / (1 << 20)).toFixed(1)} MiB`;

/**
 * A full disk as its own error (E_NO_SPACE) naming the path, how much was needed and how much is free; any other
 * error is returned unchanged.
 */
export function noSpace(err: unknown, path: string | null, needed: number | null): unknown {
  if (!isNoSpace(err, path)) return err;
  const at = path ?? (err as { path?: string }).path ?? null;
  const free = freeBytes(at);
  const parts = [
    needed === null ? null : `needed ${mib(needed)} (${needed} bytes)`,
    free === null ? null : `${mib(free)} free`,
  ];
  const figures = parts.filter(Boolean).join(', ');
  return new StudioError(
    'E_NO_SPACE',
    `no space left on the device of ${at ?? 'the studio-lite home'}${figures ? `: ${figures}` : ''}`,
    { cause: err, details: { path: at, needed, free } },
  );
}
