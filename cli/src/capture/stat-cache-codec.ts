/**
 * Binary form of one directory's stat-cache entries. One row per directory instead of one per file: SQLite costs
 * a few microseconds per row through better-sqlite3, so 20k rows take ~50 ms, while decoding one columnar blob
 * per directory takes a few. Layout: u32 count, u32 namesBytes, count*5 f64 (size, mtimeMs, ctimeMs, ino, dev),
 * count*32 sha256 bytes, names joined by '/' (a name can never contain '/').
 */
export interface DirEntry {
  name: string;
  size: number;
  mtimeMs: number;
  ctimeMs: number;
  ino: number;
  dev: number;
  sha256: string;
}

export interface DecodedDir {
  index: Map<string, number>;
  nums: Float64Array;
  shaHex: string;
}

const FIELDS = 5;

export function encodeDir(entries: readonly DirEntry[]): Buffer {
  const n = entries.length;
  const nums = new Float64Array(n * FIELDS);
  const names: string[] = [];
  const shas: string[] = [];
  entries.forEach((e, i) => {
    const o = i * FIELDS;
    nums[o] = e.size;
    nums[o + 1] = e.mtimeMs;
    nums[o + 2] = e.ctimeMs;
    nums[o + 3] = e.ino;
    nums[o + 4] = e.dev;
    names.push(e.name);
    shas.push(e.sha256);
  });
  const nameBuf = Buffer.from(names.join('/'), 'utf8');
  const numBytes = n * FIELDS * 8;
  const buf = Buffer.allocUnsafe(8 + numBytes + n * 32 + nameBuf.length);
  buf.writeUInt32LE(n, 0);
  buf.writeUInt32LE(nameBuf.length, 4);
  buf.set(new Uint8Array(nums.buffer), 8);
  buf.write(shas.join(''), 8 + numBytes, 'hex');
  nameBuf.copy(buf, 8 + numBytes + n * 32);
  return buf;
}

/** Bytes of a row's head that hold its entry count (entryCount reads them without decoding the row). */
export const COUNT_BYTES = 4;

/** The entry count of an encoded row from its first COUNT_BYTES bytes; 0 for a head too short to hold one. */
export function entryCount(head: Uint8Array): number {
  return head.length >= COUNT_BYTES ? Buffer.from(head.buffer, head.byteOffset, head.byteLength).readUInt32LE(0) : 0;
}

/** Returns null for a blob that does not parse (a cache is allowed to forget, never to lie). */
export function decodeDir(buf: Uint8Array): DecodedDir | null {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 8) return null;
  const n = b.readUInt32LE(0);
  const nameLen = b.readUInt32LE(4);
  const numBytes = n * FIELDS * 8;
  if (b.length !== 8 + numBytes + n * 32 + nameLen) return null;
  // Copy rather than view: the row buffer's offset need not be 8-byte aligned.
  const nums = new Float64Array(n * FIELDS);
  new Uint8Array(nums.buffer).set(b.subarray(8, 8 + numBytes));
  const shaHex = b.toString('hex', 8 + numBytes, 8 + numBytes + n * 32);
  const names = n === 0 ? [] : b.toString('utf8', 8 + numBytes + n * 32).split('/');
  if (names.length !== n) return null;
  const index = new Map<string, number>();
  for (let i = 0; i < n; i++) index.set(names[i] as string, i);
  return { index, nums, shaHex };
}

export function dirEntries(d: DecodedDir): DirEntry[] {
  const out: DirEntry[] = [];
  for (const [name, i] of d.index) {
    const o = i * FIELDS;
    out.push({
      name,
      size: d.nums[o] as number,
      mtimeMs: d.nums[o + 1] as number,
      ctimeMs: d.nums[o + 2] as number,
      ino: d.nums[o + 3] as number,
      dev: d.nums[o + 4] as number,
      sha256: d.shaHex.slice(i * 64, i * 64 + 64),
    });
  }
  return out;
}

/** The sha256 recorded for `name` when every stat field still matches, else undefined. */
export function matchEntry(
  d: DecodedDir,
  name: string,
  k: { size: number; mtimeMs: number; ctimeMs: number; ino: number; dev: number },
): string | undefined {
  const i = d.index.get(name);
  if (i === undefined) return undefined;
  const o = i * FIELDS;
  const nums = d.nums;
  if (nums[o] !== k.size || nums[o + 1] !== k.mtimeMs || nums[o + 2] !== k.ctimeMs) return undefined;
  if (nums[o + 3] !== k.ino || nums[o + 4] !== k.dev) return undefined;
  return d.shaHex.slice(i * 64, i * 64 + 64);
}
