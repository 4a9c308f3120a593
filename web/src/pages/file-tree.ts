import type { FileEntry, Manifest } from '../types.ts';

export interface TreeRow {
  path: string;
  name: string;
  depth: number;
  dir: boolean;
  size: number;
  files: number;
  entry?: FileEntry;
  link?: string;
}

interface Dir {
  size: number;
  files: number;
  children: Map<string, Dir | FileEntry | { target: string }>;
}

/** Folders with their total sizes, built once per manifest. */
export function buildTree(m: Manifest): Dir {
  const root: Dir = { size: 0, files: 0, children: new Map() };
  const place = (path: string, leaf: FileEntry | { target: string }, size: number) => {
    const parts = path.split('/');
    let d = root;
    for (const part of parts.slice(0, -1)) {
      d.size += size;
      d.files += 1;
      let next = d.children.get(part);
      if (!next || !('children' in next)) {
        next = { size: 0, files: 0, children: new Map() };
        d.children.set(part, next);
      }
      d = next;
    }
    d.size += size;
    d.files += 1;
    d.children.set(parts[parts.length - 1] as string, leaf);
  };
  for (const f of m.files) place(f.path, f, f.size);
  for (const l of m.links) place(l.path, { target: l.target }, 0);
  return root;
}

/** The rows shown: folders first, then files, by name; a folder's content only when it is expanded. */
export function visibleRows(root: Dir, expanded: Set<string> | 'all'): TreeRow[] {
  const out: TreeRow[] = [];
  const walk = (d: Dir, prefix: string, depth: number) => {
    const names = [...d.children.keys()].sort((a, b) => {
      const da = 'children' in (d.children.get(a) as object);
      const db = 'children' in (d.children.get(b) as object);
      return da === db ? (a < b ? -1 : a > b ? 1 : 0) : da ? -1 : 1;
    });
    for (const name of names) {
      const node = d.children.get(name) as Dir | FileEntry | { target: string };
      const path = prefix ? `${prefix}/${name}` : name;
      if ('children' in node) {
        out.push({ path, name, depth, dir: true, size: node.size, files: node.files });
        if (expanded === 'all' || expanded.has(path)) walk(node, path, depth + 1);
      } else if ('sha256' in node) {
        out.push({ path, name, depth, dir: false, size: node.size, files: 1, entry: node });
      } else {
        out.push({ path, name, depth, dir: false, size: 0, files: 1, link: node.target });
      }
    }
  };
  walk(root, '', 0);
  return out;
}

export interface DiffRow {
  path: string;
  change: 'added' | 'removed' | 'changed';
  before: number | null;
  after: number | null;
}

/** Files added, removed or changed (content or executable bit) from `base` to `head`, by path. */
export function diffManifests(base: Manifest, head: Manifest): DiffRow[] {
  const old = new Map(base.files.map((f) => [f.path, f]));
  const out: DiffRow[] = [];
  for (const f of head.files) {
    const o = old.get(f.path);
    if (!o) out.push({ path: f.path, change: 'added', before: null, after: f.size });
    else if (o.sha256 !== f.sha256 || (o.mode & 0o111) !== (f.mode & 0o111)) {
      out.push({ path: f.path, change: 'changed', before: o.size, after: f.size });
    }
    old.delete(f.path);
  }
  for (const o of old.values()) out.push({ path: o.path, change: 'removed', before: o.size, after: null });
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}
