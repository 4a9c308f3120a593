import { loadConfig } from '../../config.ts';
import { ExitError } from '../../exit-error.ts';
import { type Check, checkBackend, checkHome, checkLogin, checkNode, checkPython } from './doctor-checks.ts';

export interface DoctorOpts {
  config?: string;
  json?: boolean;
}

/** `studio-lite doctor`: local checks only (no backend started, no network), exit 1 when one fails. */
export async function doctorCommand(opts: DoctorOpts): Promise<void> {
  const cfg = await loadConfig(opts.config);
  const checks: Check[] = [checkNode(), checkPython(), checkHome(cfg.home), checkBackend(cfg), checkLogin(cfg)];
  const failed = checks.filter((c) => c.status === 'fail').length;
  if (opts.json) process.stdout.write(`${JSON.stringify({ ok: failed === 0, checks })}\n`);
  else {
    const width = Math.max(...checks.map((c) => c.name.length));
    for (const c of checks) {
      process.stdout.write(`${c.status.padEnd(4)}  ${c.name.padEnd(width)}  ${c.detail}\n`);
      if (c.hint) process.stdout.write(`${' '.repeat(width + 8)}hint: ${c.hint}\n`);
    }
  }
  if (failed > 0) throw new ExitError(1, `${failed} check${failed === 1 ? '' : 's'} failed`);
}
