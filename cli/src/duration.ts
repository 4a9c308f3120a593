import { StudioError } from '@studio-lite/functions/contract';

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `N`, `Ns`, `Nm`, `Nh` or `Nd` in seconds, at least `min` (default 1 s; `why` says why a minimum applies). */
export function parseDuration(s: string, flag: string, min = 1, why = ''): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(s.trim());
  if (!m) throw new StudioError('E_BAD_REQUEST', `invalid ${flag} "${s}": use N, Ns, Nm, Nh or Nd (e.g. 48h)`);
  const n = Number(m[1]) * (UNIT[m[2] || 's'] as number);
  if (n < min)
    throw new StudioError('E_BAD_REQUEST', `${flag} ${s} is too short: at least ${formatSeconds(min)}${why}`);
  return n;
}

/** `gpus=1,mem=16` -> {gpus: 1, mem: 16}. Throws E_BAD_REQUEST. */
export function parseResources(specs: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const part of specs.flatMap((s) => s.split(',')).filter(Boolean)) {
    const m = /^([a-z][a-z0-9_-]{0,31})=(\d+(?:\.\d+)?)$/.exec(part.trim());
    if (!m) throw new StudioError('E_BAD_REQUEST', `invalid --resources "${part}": use NAME=NUMBER, e.g. gpus=1`);
    out[m[1] as string] = Number(m[2]);
  }
  return out;
}

/** 3600 -> "1h", 90 -> "90s": the largest unit that divides evenly. */
export function formatSeconds(n: number): string {
  if (n % 86_400 === 0) return `${n / 86_400}d`;
  if (n % 3600 === 0) return `${n / 3600}h`;
  if (n % 60 === 0) return `${n / 60}m`;
  return `${n}s`;
}
