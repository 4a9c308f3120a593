import { resolve } from 'node:path';
import { parseArtifactRef } from '@studio-lite/functions/core/names.ts';
import { fetchArtifact } from '../../artifacts/fetch-artifact.ts';
import { formatBytes } from '../../format.ts';
import { type GlobalOpts, withConnection } from '../with-connection.ts';

/** `studio-lite pull EXP/TAG[@V] [-o DIR]`: resolve the version, fill the cache, lay the files out in DIR. */
export async function pullCommand(ref: string, opts: GlobalOpts & { output?: string; copy?: boolean; json?: boolean }) {
  const r = parseArtifactRef(ref);
  await withConnection(opts, async ({ client }, cfg, log) => {
    const dest = resolve(opts.output ?? `${r.experiment}-${r.tag}`);
    const got = await fetchArtifact(client, cfg, r, dest, { mode: opts.copy ? 'copy' : cfg.materialize, log });
    if (opts.json) {
      process.stdout.write(`${JSON.stringify({ experiment: r.experiment, tag: r.tag, dest, ...got }, null, 2)}\n`);
      return;
    }
    log.info(
      `pulled ${r.experiment}/${r.tag}@${got.version}: ${got.files} files, ${formatBytes(got.bytes)} -> ${dest} ` +
        `(${got.downloadedBlobs} blobs / ${formatBytes(got.downloadedBytes)} downloaded, ${got.cachedBlobs} from cache)`,
    );
  });
}
