import type { Manifest } from '@studio-lite/functions/contract';

export interface DiffEntry {
  path: string;
  /** Size in the first version (null: added). */
  before: number | null;
  /** Size in the second version (null: removed). */
  after: number | null;
}

export interface ManifestDiff {
  added: DiffEntry[];
  removed: DiffEntry[];
  /** Content, executable bit or link target differ. */
  changed: DiffEntry[];
  unchanged: number;
}

/** Files and links of two manifests compared by path: content (sha256), mode and link target, not mtimes. */
export function diffManifests(a: Manifest, b: Manifest): ManifestDiff {
  const key = (m: Manifest) => {
    const out = new Map<string, { id: string; size: number }>();
    for (const f of m.files) out.set(f.path, { id: `f:${f.sha256}:${f.mode}`, size: f.size });
    for (const l of m.links) out.set(l.path, { id: `l:${l.target}`, size: 0 });
    return out;
  };
  const left = key(a);
  const right = key(b);
  const d: ManifestDiff = { added: [], removed: [], changed: [], unchanged: 0 };
  for (const [path, l] of left) {
    const r = right.get(path);
    if (!r) d.removed.push({ path, before: l.size, after: null });
    else if (r.id !== l.id) d.changed.push({ path, before: l.size, after: r.size });
    else d.unchanged += 1;
  }
  for (const [path, r] of right) if (!left.has(path)) d.added.push({ path, before: null, after: r.size });
  for (const list of [d.added, d.removed, d.changed])
    list.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  return d;
}
