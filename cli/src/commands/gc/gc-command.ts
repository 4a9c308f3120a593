import { type Amount, type GcReport, StudioError } from '@studio-lite/functions/contract';
import { formatSeconds, parseDuration } from '../../duration.ts';
import { formatBytes } from '../../format.ts';
import { type GlobalOpts, withConnection } from '../../shared/with-connection.ts';

const amount = (a: Amount) => `${a.blobs} blob(s), ${formatBytes(a.bytes)}`;

/** The human summary of one run (stdout). */
export function describeGc(r: GcReport): string {
  const dry = r.dryRun;
  const lines = [
    `gc of team ${r.team}${dry ? ' (dry run: nothing changed)' : ''}: ${r.versions} version(s) of ` +
      `${r.experiments} experiment(s) reference ${amount(r.referenced)}`,
    `${dry ? 'would delete' : 'deleted'}: ${amount(r.deleted)} (condemned at least ${formatSeconds(r.graceSeconds)} ago)`,
    `${dry ? 'would condemn' : 'condemned now'}: ${amount(r.condemned)}` +
      (r.unrecorded.blobs ? ` (of which ${amount(r.unrecorded)} never committed)` : '') +
      (r.condemned.blobs && r.deleteAfter
        ? `; ${dry ? 'a run would delete them' : 'deleted by a gc run'} after ${r.deleteAfter} unless a version needs them again`
        : ''),
  ];
  if (r.pending.blobs) lines.push(`still condemned from earlier runs: ${amount(r.pending)}`);
  if (r.absolved) lines.push(`needed again, kept: ${r.absolved} blob(s)`);
  if (r.staged?.blobs) lines.push(`abandoned job uploads removed: ${r.staged.blobs} (${formatBytes(r.staged.bytes)})`);
  const packs = r.packs;
  if (packs && packs.deleted.blobs + packs.repacked.blobs + packs.live.blobs > 0) {
    const n = (a: Amount) => `${a.blobs} pack(s)`;
    lines.push(
      `packs: ${dry ? 'would delete' : 'deleted'} ${n(packs.deleted)} (${formatBytes(packs.deleted.bytes)}), ` +
        `${dry ? 'would repack' : 'repacked'} ${n(packs.repacked)} (${formatBytes(packs.repacked.bytes)} of dead members ` +
        `freed when a later run deletes the old packs), kept ${n(packs.live)} (${formatBytes(packs.live.bytes)})`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** `studio-lite gc [--grace 24h] [--dry-run] [--json]`: one blob GC run in the current team (core/gc.ts). */
export async function gcCommand(opts: GlobalOpts & { grace?: string; dryRun?: boolean; json?: boolean }) {
  const graceSeconds = opts.grace === undefined ? undefined : parseDuration(opts.grace, '--grace', 0);
  if (graceSeconds === 0) {
    // The backend's floor (one hour by default) is its own to say; 0 is never a grace.
    throw new StudioError(
      'E_BAD_REQUEST',
      `--grace ${opts.grace} would delete blobs a capture in flight still needs: use at least 1h (e.g. --grace 1h)`,
    );
  }
  await withConnection(opts, async ({ client }) => {
    const { gc } = await client.collectGarbage({
      ...(graceSeconds !== undefined ? { graceSeconds } : {}),
      ...(opts.dryRun ? { dryRun: true } : {}),
    });
    process.stdout.write(opts.json ? `${JSON.stringify(gc, null, 2)}\n` : describeGc(gc));
  });
}
