import { assertAliasName, parseArtifactRef, StudioError, versionSelector } from '@studio-lite/functions/contract';
import { formatLocalTime, table } from '../../format.ts';
import { sanitize } from '../../sanitize.ts';
import { type GlobalOpts, withConnection } from '../../shared/with-connection.ts';

type AliasOpts = GlobalOpts & { delete?: boolean; json?: boolean };

const print = (o: unknown) => process.stdout.write(`${JSON.stringify(o, null, 2)}\n`);

/**
 * `studio-lite alias EXP/TAG@V NAME` sets or moves NAME to version V (a number, `latest` or another alias, resolved
 * now); `alias EXP/TAG` lists the artifact's aliases; `alias --delete EXP/TAG NAME` removes one. Everything the
 * user typed is checked before the backend is reached, so bad input stores nothing.
 */
export async function aliasCommand(ref: string, name: string | undefined, opts: AliasOpts) {
  const r = parseArtifactRef(ref);
  const named = r.version !== undefined || r.alias !== undefined || /@latest$/.test(ref);
  if (name !== undefined) assertAliasName(name);
  if (opts.delete) {
    if (name === undefined) throw new StudioError('E_BAD_REQUEST', 'alias --delete needs EXP/TAG NAME');
    if (named) throw new StudioError('E_BAD_REQUEST', `alias --delete takes EXP/TAG without a version, not "${ref}"`);
    return deleteAlias(r.experiment, r.tag, name, opts);
  }
  if (name === undefined) {
    if (named) {
      throw new StudioError('E_BAD_REQUEST', `to point an alias at ${ref}, name it: studio-lite alias ${ref} NAME`);
    }
    return listAliases(r.experiment, r.tag, opts);
  }
  if (!named) {
    throw new StudioError('E_BAD_REQUEST', `name the version: studio-lite alias ${ref}@VERSION ${name}`);
  }
  await withConnection(opts, async ({ client }) => {
    // `@latest` and `@other-alias` are fixed now: the alias names that version, not the moving pointer.
    const version = r.version ?? (await client.getVersion(r.experiment, r.tag, versionSelector(r))).version.version;
    const { alias } = await client.setAlias(r.experiment, r.tag, name, { version });
    if (opts.json) return print(alias);
    const what = `${alias.experiment}/${alias.tag}@${alias.name} -> @${alias.to}`;
    const was = alias.from === null ? 'new' : alias.from === alias.to ? 'unchanged' : `moved from @${alias.from}`;
    process.stdout.write(`${sanitize(what)} (${was})\n`);
  });
}

async function deleteAlias(experiment: string, tag: string, name: string, opts: AliasOpts) {
  await withConnection(opts, async ({ client }) => {
    const { alias } = await client.deleteAlias(experiment, tag, name);
    if (opts.json) return print(alias);
    process.stdout.write(`${sanitize(`deleted ${experiment}/${tag}@${name}`)} (was @${alias.from})\n`);
  });
}

async function listAliases(experiment: string, tag: string, opts: AliasOpts) {
  await withConnection(opts, async ({ client }) => {
    const res = await client.listAliases(experiment, tag);
    if (opts.json) return print(res);
    if (res.aliases.length === 0) {
      process.stdout.write(`${sanitize(`${experiment}/${tag}`)} has no aliases\n`);
      return;
    }
    const rows = res.aliases.map((a) => [a.name, `@${a.version}`, formatLocalTime(a.updatedAt), a.updatedBy]);
    process.stdout.write(`${table(['ALIAS', 'VERSION', 'UPDATED', 'BY'], rows)}\n`);
  });
}
