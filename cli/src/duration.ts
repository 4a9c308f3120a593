import { StudioError } from '@studio-lite/functions/core/errors.ts';

const UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** `90s`, `30m`, `48h`, `2d` or plain seconds -> seconds. Throws E_BAD_REQUEST naming the flag. */
export function parseDuration(s: string, flag: string): number {
  const m = /^(\d{1,9})([smhd]?)$/.exec(s.trim());
  const n = m ? Number(m[1]) * (UNIT[m[2] || 's'] as number) : 0;
  if (!m || n < 1) throw new StudioError('E_BAD_REQUEST', `invalid ${flag} "${s}": use N, Ns, Nm, Nh or Nd (e.g. 48h)`);
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
