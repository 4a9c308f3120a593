import { parseArtifactRef, type VersionWithManifest, versionSelector } from '@studio-lite/functions/contract';
import type { ApiClient } from '../../api-client.ts';
import { formatBytes, formatLocalTime, table } from '../../format.ts';
import { type GlobalOpts, withConnection } from '../../shared/with-connection.ts';
import { diffManifests } from './manifest-diff.ts';

type JsonOpts = GlobalOpts & { json?: boolean };

async function fetchVersion(client: ApiClient, ref: string): Promise<VersionWithManifest> {
  const r = parseArtifactRef(ref);
  return (await client.getVersion(r.experiment, r.tag, versionSelector(r))).version;
}

const name = (v: VersionWithManifest) => `${v.experiment}/${v.tag}@${v.version}`;

/** `studio-lite ls EXP/TAG[@V]`: the files of a version (latest when no version is named). */
export async function lsCommand(ref: string, opts: JsonOpts) {
  parseArtifactRef(ref);
  await withConnection(opts, async ({ client }) => {
    const v = await fetchVersion(client, ref);
    const files = v.manifest.files.map((f) => ({ path: f.path, size: f.size, sha256: f.sha256, mode: f.mode }));
    if (opts.json) {
      const { experiment, tag, version, createdAt } = v;
      process.stdout.write(
        `${JSON.stringify({ experiment, tag, version, createdAt, files, links: v.manifest.links })}\n`,
      );
      return;
    }
    const rows = [
      ...files.map((f) => [f.path, formatBytes(f.size), f.sha256.slice(0, 12)]),
      ...v.manifest.links.map((l) => [`${l.path} -> ${l.target}`, '-', 'link']),
    ];
    process.stdout.write(`${name(v)}  ${v.files} files, ${formatBytes(v.bytes)}, ${formatLocalTime(v.createdAt)}\n`);
    process.stdout.write(`${table(['PATH', 'SIZE', 'SHA256'], rows)}\n`);
  });
}

/**
 * `studio-lite diff EXP/TAG@A [EXP2/TAG2@B]`: files added, removed and changed from A to B. Without B: the version
 * before A (or before the latest when A names none).
 */
export async function diffCommand(a: string, b: string | undefined, opts: JsonOpts) {
  parseArtifactRef(a);
  if (b !== undefined) parseArtifactRef(b);
  await withConnection(opts, async ({ client }) => {
    let right = await fetchVersion(client, a);
    let left: VersionWithManifest;
    if (b !== undefined) {
      left = right;
      right = await fetchVersion(client, b);
    } else if (right.version > 1) {
      left = (await client.getVersion(right.experiment, right.tag, right.version - 1)).version;
    } else {
      left = { ...right, version: 0, files: 0, bytes: 0, manifest: { files: [], links: [] } };
    }
    const d = diffManifests(left.manifest, right.manifest);
    const sum = (xs: { before: number | null; after: number | null }[], k: 'before' | 'after') =>
      xs.reduce((n, x) => n + (x[k] ?? 0), 0);
    if (opts.json) {
      const side = (v: VersionWithManifest) => ({
        experiment: v.experiment,
        tag: v.tag,
        version: v.version,
        files: v.files,
        bytes: v.bytes,
      });
      process.stdout.write(`${JSON.stringify({ from: side(left), to: side(right), ...d })}\n`);
      return;
    }
    const lines = [
      `${left.version === 0 ? '(nothing)' : name(left)} -> ${name(right)}: ${d.added.length} added, ` +
        `${d.removed.length} removed, ${d.changed.length} changed, ${d.unchanged} unchanged; ` +
        `${formatBytes(left.bytes)} -> ${formatBytes(right.bytes)}`,
      ...d.added.map((x) => `+ ${x.path}  ${formatBytes(x.after ?? 0)}`),
      ...d.removed.map((x) => `- ${x.path}  ${formatBytes(x.before ?? 0)}`),
      ...d.changed.map((x) => `~ ${x.path}  ${formatBytes(x.before ?? 0)} -> ${formatBytes(x.after ?? 0)}`),
    ];
    if (d.added.length + d.removed.length + d.changed.length > 0) {
      lines.push(`added ${formatBytes(sum(d.added, 'after'))}, removed ${formatBytes(sum(d.removed, 'before'))}`);
    }
    process.stdout.write(`${lines.join('\n')}\n`);
  });
}
