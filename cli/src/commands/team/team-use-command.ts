import { StudioError } from '@studio-lite/functions/contract';
import { withHint } from '../../exit-error.ts';
import { rememberTeam } from '../../team-memory.ts';
import { type GlobalOpts, withConnection } from '../with-connection.ts';

/** `studio-lite team use TEAM`: checks you are a member, then makes it the default team for this backend. */
export async function teamUseCommand(team: string, opts: GlobalOpts & { json?: boolean }) {
  await withConnection(opts, async ({ client }, cfg, log) => {
    const { teams } = await client.listTeams();
    const mine = teams.find((t) => t.id === team);
    if (!mine) {
      const err = new StudioError('E_NOT_FOUND', `you are not a member of team ${team}`);
      throw withHint(err, `your teams: ${teams.map((t) => t.id).join(', ') || 'none'}`);
    }
    rememberTeam(cfg.home, cfg.apiUrl, team);
    if (opts.json) {
      process.stdout.write(
        `${JSON.stringify({ team: mine.id, role: mine.role, backend: cfg.apiUrl ?? 'embedded' })}\n`,
      );
      return;
    }
    process.stdout.write(`using team ${team} (${mine.role}) from now on on ${cfg.apiUrl ?? 'the embedded backend'}\n`);
    if (process.env.STUDIOML_TEAM && process.env.STUDIOML_TEAM !== team) {
      log.warn(`$STUDIOML_TEAM=${process.env.STUDIOML_TEAM} still wins while it is set`);
    }
  });
}
