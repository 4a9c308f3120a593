// A small TensorBoard event-file writer for the tests: Event protobufs built with protobufjs's Writer, framed as
// TFRecords with TensorFlow's masked CRC32C (independent of the parser's own framing code).
import CRC32C from 'crc-32/crc32c.js';
import protobuf from 'protobufjs/minimal.js';

const { Writer } = protobuf;

export function masked(bytes: Uint8Array): number {
  const crc = CRC32C.buf(bytes) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** One TFRecord: uint64 length, masked CRC of the length, data, masked CRC of the data (little-endian). */
export function record(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(12 + data.length + 4);
  const view = new DataView(out.buffer);
  view.setUint32(0, data.length, true);
  view.setUint32(4, 0, true);
  view.setUint32(8, masked(out.subarray(0, 8)), true);
  out.set(data, 12);
  view.setUint32(12 + data.length, masked(data), true);
  return out;
}

export type ValueSpec =
  | { tag: string; simple: number }
  | {
      tag: string;
      /** TF2: a scalar tensor; the `scalars` plugin metadata on it when `meta`. */
      tensor: { dtype: 1 | 2 | 3; value: number; as: 'val' | 'content' };
      meta?: boolean;
      plugin?: string;
    };

function tensorBytes(t: { dtype: number; value: number; as: 'val' | 'content' }): Uint8Array {
  const w = Writer.create();
  w.uint32((1 << 3) | 0).uint32(t.dtype);
  w.uint32((2 << 3) | 2)
    .fork()
    .ldelim(); // tensor_shape: {} (a scalar)
  if (t.as === 'content') {
    const b = new Uint8Array(t.dtype === 2 ? 8 : 4);
    const v = new DataView(b.buffer);
    if (t.dtype === 2) v.setFloat64(0, t.value, true);
    else if (t.dtype === 1) v.setFloat32(0, t.value, true);
    else v.setInt32(0, t.value, true);
    w.uint32((4 << 3) | 2).bytes(b);
  } else if (t.dtype === 1)
    w.uint32((5 << 3) | 2)
      .fork()
      .float(t.value)
      .ldelim();
  else if (t.dtype === 2)
    w.uint32((6 << 3) | 2)
      .fork()
      .double(t.value)
      .ldelim();
  else
    w.uint32((7 << 3) | 2)
      .fork()
      .int32(t.value)
      .ldelim();
  return w.finish();
}

function valueBytes(v: ValueSpec): Uint8Array {
  const w = Writer.create();
  w.uint32((1 << 3) | 2).string(v.tag);
  if ('simple' in v) w.uint32((2 << 3) | 5).float(v.simple);
  else {
    w.uint32((8 << 3) | 2).bytes(tensorBytes(v.tensor));
    if (v.meta || v.plugin) {
      const plugin = Writer.create()
        .uint32((1 << 3) | 2)
        .string(v.plugin ?? 'scalars')
        .finish();
      const meta = Writer.create()
        .uint32((1 << 3) | 2)
        .bytes(plugin)
        .finish();
      w.uint32((9 << 3) | 2).bytes(meta);
    }
  }
  return w.finish();
}

/** An Event: wall_time, step, and one of file_version, graph_def (opaque bytes here) or a summary of `values`. */
export function eventBytes(e: {
  wallTime: number;
  step: number;
  fileVersion?: string;
  graphDef?: Uint8Array;
  values?: ValueSpec[];
}): Uint8Array {
  const w = Writer.create();
  w.uint32((1 << 3) | 1).double(e.wallTime);
  if (e.step) w.uint32((2 << 3) | 0).int64(e.step);
  if (e.fileVersion) w.uint32((3 << 3) | 2).string(e.fileVersion);
  if (e.graphDef) w.uint32((4 << 3) | 2).bytes(e.graphDef);
  if (e.values) {
    const s = Writer.create();
    for (const v of e.values) s.uint32((1 << 3) | 2).bytes(valueBytes(v));
    w.uint32((5 << 3) | 2).bytes(s.finish());
  }
  return w.finish();
}

export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * An event file as TensorFlow writes it: the file_version record, then one event per step with `values(step)`.
 */
export function eventFile(steps: number[], values: (step: number) => ValueSpec[], start = 1_700_000_000): Uint8Array {
  return concat([
    record(eventBytes({ wallTime: start, step: 0, fileVersion: 'brain.Event:2' })),
    ...steps.map((s) => record(eventBytes({ wallTime: start + s / 10, step: s, values: values(s) }))),
  ]);
}
