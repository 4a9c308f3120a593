import { StudioError } from '@studio-lite/functions/contract/errors';

/**
 * Strict number flags for commander's argParser: `--limit abc`, `--limit 0`, `--limit 1.5` and `--limit 10x` are
 * E_BAD_REQUEST (exit 2) instead of NaN or a silently ignored value.
 */
export function integerOption(flag: string, min: number, max = Number.MAX_SAFE_INTEGER): (v: string) => number {
  return (v) => {
    const n = /^\s*-?\d+\s*$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isSafeInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `a whole number >= ${min}` : `a whole number ${min}-${max}`;
      throw new StudioError('E_BAD_REQUEST', `invalid ${flag} "${v}": expected ${range}`);
    }
    return n;
  };
}

/** A number of seconds (decimals allowed) that must be > 0, or >= 0 with `allowZero`. */
export function secondsOption(flag: string, allowZero = false): (v: string) => number {
  return (v) => {
    const n = /^\s*\d+(\.\d+)?\s*$/.test(v) ? Number(v) : Number.NaN;
    if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) {
      throw new StudioError(
        'E_BAD_REQUEST',
        `invalid ${flag} "${v}": expected a number of seconds ${allowZero ? '>= 0' : '> 0'}`,
      );
    }
    return n;
  };
}
