import { Readable } from 'node:stream';
import { createGzip } from 'node:zlib';
import { pack as tarPack } from 'tar-stream';
import { StudioError } from '../contract/errors.ts';
import type { Manifest } from '../contract/manifest.ts';
import type { Principal } from '../contract/model.ts';
import { getVersion, loadManifest } from './artifacts.ts';
import { recordAudit } from './audit.ts';
import type { CoreDeps } from './context.ts';
import { signLink, verifyLink } from './link-signer.ts';
import { readBlob } from './packs.ts';

const KIND = 'archive';

async function linkKey(deps: CoreDeps): Promise<Uint8Array> {
  if (!deps.linkKey) throw new StudioError('E_UNAVAILABLE', 'this backend cannot sign download links');
  return deps.linkKey();
}

/** The file name a browser or `curl -OJ` saves the archive as. */
export function archiveName(key: string, tag: string, version: number): string {
  return `${key}-${tag}-v${version}.tar.gz`;
}

/**
 * A link to one version as .tar.gz, valid for the backend's signed-URL lifetime. Reading the version is checked now
 * (whoever may read it may share it until it expires, like a signed storage URL) and audited as `download.sign`.
 */
export async function signArchiveLink(
  deps: CoreDeps,
  p: Principal,
  team: string,
  key: string,
  tag: string,
  version: number,
  origin: string,
): Promise<{ url: string; expiresAt: string }> {
  const v = await getVersion(deps, p, team, key, tag, version);
  const exp = Math.floor(deps.now().getTime() / 1000) + deps.urlTtlSeconds;
  const token = signLink(await linkKey(deps), { kind: KIND, team, exp, key, tag, version: v.version });
  await recordAudit(deps, p, team, 'download.sign', `${key}/${tag}@${v.version}`, {
    archive: true,
    files: v.files,
    bytes: v.bytes,
  });
  const url = `${origin}/v1/archives/${token}/${encodeURIComponent(archiveName(key, tag, v.version))}`;
  return { url, expiresAt: new Date(exp * 1000).toISOString() };
}

/**
 * Opens the archive a link names: verifies it (E_BAD_SIGNATURE, E_URL_EXPIRED), then returns a gzip stream that
 * reads one blob at a time from storage, so memory stays flat for any size.
 */
export async function openArchive(
  deps: CoreDeps,
  token: string,
): Promise<{ name: string; stream: ReadableStream<Uint8Array> }> {
  const link = verifyLink(await linkKey(deps), token, KIND, deps.now().getTime());
  const [team, key, tag, version] = [link.team, String(link.key), String(link.tag), Number(link.version)];
  const v = await deps.experiments.getVersion(team, key, tag, version);
  if (!v) throw new StudioError('E_NOT_FOUND', `artifact ${key}/${tag}@${version} not found`);
  const manifest = await loadManifest(deps, team, v.manifestSha256);
  // Large output chunks: every chunk crosses two stream adapters on its way to the socket.
  const gz = createGzip({ level: 6, chunkSize: 256 * 1024 });
  const pack = tarPack();
  pack.pipe(gz);
  void writeEntries(deps, team, manifest, pack).then(
    () => pack.finalize(),
    (err: unknown) => gz.destroy(err as Error),
  );
  return { name: archiveName(key, tag, version), stream: Readable.toWeb(gz) as ReadableStream<Uint8Array> };
}

type Pack = ReturnType<typeof tarPack>;

async function writeEntries(deps: CoreDeps, team: string, manifest: Manifest, pack: Pack): Promise<void> {
  // Where each blob lives (its own object or a range of a pack).
  const records = await deps.blobIndex.findBlobs(team, [...new Set(manifest.files.map((f) => f.sha256))]);
  for (const f of manifest.files) {
    const header = { name: f.path, size: f.size, mode: f.mode, mtime: new Date(f.mtime), type: 'file' as const };
    const where = records.get(f.sha256)?.pack;
    const body = Readable.from(await readBlob(deps, team, { sha256: f.sha256, size: f.size, pack: where }));
    await new Promise<void>((resolve, reject) => {
      const entry = pack.entry(header, (err?: Error | null) => (err ? reject(err) : resolve()));
      body.on('error', reject);
      body.pipe(entry);
    });
  }
  for (const l of manifest.links) {
    await new Promise<void>((resolve, reject) => {
      pack.entry({ name: l.path, type: 'symlink', linkname: l.target, mode: 0o777 }, (err?: Error | null) =>
        err ? reject(err) : resolve(),
      );
    });
  }
}
