import { resolve } from 'node:path';
import { parseArtifactRef, StudioError } from '@studio-lite/functions/contract';
import { fetchArtifact } from '../../artifacts/fetch-artifact.ts';
import { formatBytes } from '../../format.ts';
import { type GlobalOpts, withConnection } from '../with-connection.ts';

/** `studio-lite pull EXP/TAG[@V] [-o DIR] [--link|--copy] [--force]`: resolve, fill the cache, lay out in DIR. */
export async function pullCommand(
  ref: string,
  opts: GlobalOpts & { output?: string; copy?: boolean; link?: boolean; force?: boolean; json?: boolean },
) {
  const r = parseArtifactRef(ref);
  await withConnection(
    opts,
    async ({ client }, cfg, log) => {
      const dest = resolve(opts.output ?? `${r.experiment}-${r.tag}`);
      if (opts.copy && opts.link) throw new StudioError('E_BAD_REQUEST', '--copy and --link exclude each other');
      const mode = opts.link ? 'link' : opts.copy ? 'copy' : cfg.materialize;
      const got = await fetchArtifact(client, cfg, r, dest, { mode, log, force: opts.force ?? false });
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ experiment: r.experiment, tag: r.tag, dest, ...got }, null, 2)}\n`);
        return;
      }
      log.info(
        `pulled ${r.experiment}/${r.tag}@${got.version}: ${got.files} files, ${formatBytes(got.bytes)} -> ${dest} ` +
          `(${got.downloadedBlobs} blobs / ${formatBytes(got.downloadedBytes)} downloaded, ${got.cachedBlobs} from cache)`,
      );
    },
    { transfers: true },
  );
}
