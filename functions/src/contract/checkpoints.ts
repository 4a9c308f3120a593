import type { Manifest } from './manifest.ts';

/**
 * Checkpoints in a `modeldir` version (Studio: "Studio will try to do some analysis on it, such as count the number
 * of checkpoints"). Pure and browser-safe: the CLI's `show` and the web page use this one definition.
 *
 * A checkpoint is
 * - a file named like one: `*.ckpt*`, `*.pt`, `*.pth`, `*.h5`, `*.keras`, `*.safetensors`, `*.npz`, `*.pck`;
 * - a TensorFlow checkpoint: the files sharing one prefix `P.index`, `P.data-00000-of-00001`…, `P.meta` are one
 *   checkpoint named P (`ckpt-5`, `model.ckpt-1000`); TensorFlow's `checkpoint` state file is not one;
 * - a TensorFlow SavedModel folder (one holding `saved_model.pb`): the folder with everything under it.
 */
export interface Checkpoint {
  /** Path of the file, the TensorFlow prefix, or the SavedModel folder. */
  name: string;
  kind: 'file' | 'tensorflow' | 'savedmodel';
  files: number;
  bytes: number;
  /** Compared with the previous version: absent there, other bytes, or the same. */
  change: 'new' | 'changed' | 'same';
}

export interface CheckpointReport {
  count: number;
  bytes: number;
  /** How many are new or changed since the previous version (all of them for a first version). */
  fresh: number;
  checkpoints: Checkpoint[];
}

const FILE_RE = /\.(ckpt[^/]*|pt|pth|h5|keras|safetensors|npz|pck)$/i;
const TF_PART_RE = /^(.*)\.(index|meta|data-\d{5}-of-\d{5})$/;

interface Group {
  kind: Checkpoint['kind'];
  parts: { path: string; sha256: string; size: number }[];
}

function groups(m: Manifest): Map<string, Group> {
  const out = new Map<string, Group>();
  const add = (name: string, kind: Checkpoint['kind'], f: Group['parts'][number]) => {
    const g = out.get(name) ?? { kind, parts: [] };
    g.parts.push(f);
    out.set(name, g);
  };
  const savedModels = m.files
    .filter((f) => f.path === 'saved_model.pb' || f.path.endsWith('/saved_model.pb'))
    .map((f) => f.path.slice(0, -'saved_model.pb'.length));
  for (const f of m.files) {
    const folder = savedModels.find((d) => f.path.startsWith(d));
    if (folder !== undefined) {
      add(folder === '' ? '.' : folder.slice(0, -1), 'savedmodel', f);
      continue;
    }
    const tf = TF_PART_RE.exec(f.path);
    if (tf) add(tf[1] as string, 'tensorflow', f);
    else if (FILE_RE.test(f.path)) add(f.path, 'file', f);
  }
  return out;
}

/** Fingerprint of a checkpoint's bytes: its parts' paths and hashes. */
function print(g: Group): string {
  return g.parts
    .map((p) => `${p.path}\0${p.sha256}`)
    .sort()
    .join('\n');
}

/** The checkpoints of `m`, sorted by name, each compared with `previous` (the version before; null for the first). */
export function checkpointReport(m: Manifest, previous: Manifest | null): CheckpointReport {
  const before = previous ? groups(previous) : new Map<string, Group>();
  const checkpoints: Checkpoint[] = [];
  for (const [name, g] of groups(m)) {
    const old = before.get(name);
    checkpoints.push({
      name,
      kind: g.kind,
      files: g.parts.length,
      bytes: g.parts.reduce((n, p) => n + p.size, 0),
      change: !old ? 'new' : print(old) === print(g) ? 'same' : 'changed',
    });
  }
  checkpoints.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  return {
    count: checkpoints.length,
    bytes: checkpoints.reduce((n, c) => n + c.bytes, 0),
    fresh: checkpoints.filter((c) => c.change !== 'same').length,
    checkpoints,
  };
}
