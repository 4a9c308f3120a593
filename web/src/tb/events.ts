/**
 * Scalars from one TensorBoard event file: TFRecord framing (tfrecord.ts), then each record an `Event` protobuf
 * (tensorflow/core/util/event.proto). Decoded with protobufjs's Reader and hand-written decoders of the few fields
 * read here (protobufjs's reflection decoders are generated with `Function`, which the page's CSP refuses):
 *
 *   Event          { wall_time = 1 double, step = 2 int64, file_version = 3 string, summary = 5 Summary }
 *   Summary        { value = 1 repeated Value }
 *   Value          { tag = 1 string, simple_value = 2 float, tensor = 8 TensorProto, metadata = 9 SummaryMetadata }
 *   SummaryMetadata{ plugin_data = 1 PluginData { plugin_name = 1 string }, data_class = 4 enum (1 = scalar) }
 *   TensorProto    { dtype = 1 enum (1 float, 2 double), tensor_content = 4 bytes, float_val = 5, double_val = 6 }
 *
 * TF1 (and PyTorch's SummaryWriter) write `simple_value`; TF2 writes a scalar `tensor` whose tag carries the
 * `scalars` plugin in its metadata, on the tag's first value of each file only. Everything else (histograms, images,
 * graphs, text) is skipped. Pure: bytes in, series and warnings out.
 */
import protobuf from 'protobufjs/minimal.js';
import { type RecordProblem, readRecords } from './tfrecord.ts';

const { Reader, util } = protobuf;
type Reader = protobuf.Reader;

export interface ScalarPoint {
  step: number;
  /** Seconds since the epoch. */
  wallTime: number;
  value: number;
}

export interface ParsedEvents {
  /** Points of each scalar tag in file order. */
  series: Map<string, ScalarPoint[]>;
  /** For the page: why the file or part of it was not read. */
  warnings: string[];
  /** Records read (events, including those without scalars). */
  records: number;
}

const DT_FLOAT = 1;
const DT_DOUBLE = 2;
const DATA_CLASS_SCALAR = 1;
const WIRE_VARINT = 0;
const WIRE_64 = 1;
const WIRE_LEN = 2;
const WIRE_32 = 5;

interface Tensor {
  dtype: number;
  content: Uint8Array | null;
  floats: number[];
  doubles: number[];
}
interface Value {
  tag: string;
  simple: number | null;
  tensor: Tensor | null;
  plugin: string | null;
  dataClass: number;
}
interface Event {
  wallTime: number;
  step: number;
  values: Value[];
}

/** The end of a length-delimited field, checked against what is left (a lying length throws). */
function sub(r: Reader): number {
  const len = r.uint32();
  const end = r.pos + len;
  if (end > r.len) throw new Error('field length past the end of the record');
  return end;
}

function str(r: Reader, wire: number): string | null {
  if (wire === WIRE_LEN) return r.string();
  r.skipType(wire);
  return null;
}

/** A repeated float/double, packed (proto3) or not. */
function repeated(r: Reader, wire: number, out: number[], read: () => number, unpackedWire: number): void {
  if (wire === WIRE_LEN) {
    const end = sub(r);
    while (r.pos < end) out.push(read());
  } else if (wire === unpackedWire) out.push(read());
  else r.skipType(wire);
}

function decodeTensor(r: Reader, end: number): Tensor {
  const t: Tensor = { dtype: 0, content: null, floats: [], doubles: [] };
  while (r.pos < end) {
    const key = r.uint32();
    const wire = key & 7;
    switch (key >>> 3) {
      case 1:
        if (wire === WIRE_VARINT) t.dtype = r.uint32();
        else r.skipType(wire);
        break;
      case 4:
        if (wire === WIRE_LEN) t.content = r.bytes();
        else r.skipType(wire);
        break;
      case 5:
        repeated(r, wire, t.floats, () => r.float(), WIRE_32);
        break;
      case 6:
        repeated(r, wire, t.doubles, () => r.double(), WIRE_64);
        break;
      default:
        r.skipType(wire);
    }
  }
  return t;
}

function decodePluginName(r: Reader, end: number): string | null {
  let name: string | null = null;
  while (r.pos < end) {
    const key = r.uint32();
    if (key >>> 3 === 1) name = str(r, key & 7);
    else r.skipType(key & 7);
  }
  return name;
}

function decodeMetadata(r: Reader, end: number, v: Value): void {
  while (r.pos < end) {
    const key = r.uint32();
    const wire = key & 7;
    if (key >>> 3 === 1 && wire === WIRE_LEN) v.plugin = decodePluginName(r, sub(r));
    else if (key >>> 3 === 4 && wire === WIRE_VARINT) v.dataClass = r.uint32();
    else r.skipType(wire);
  }
}

function decodeValue(r: Reader, end: number): Value {
  const v: Value = { tag: '', simple: null, tensor: null, plugin: null, dataClass: 0 };
  while (r.pos < end) {
    const key = r.uint32();
    const wire = key & 7;
    switch (key >>> 3) {
      case 1:
        v.tag = str(r, wire) ?? v.tag;
        break;
      case 2:
        if (wire === WIRE_32) v.simple = r.float();
        else r.skipType(wire);
        break;
      case 8:
        if (wire === WIRE_LEN) v.tensor = decodeTensor(r, sub(r));
        else r.skipType(wire);
        break;
      case 9:
        if (wire === WIRE_LEN) decodeMetadata(r, sub(r), v);
        else r.skipType(wire);
        break;
      default:
        r.skipType(wire);
    }
  }
  return v;
}

function decodeEvent(data: Uint8Array): Event {
  const r = Reader.create(data);
  const e: Event = { wallTime: 0, step: 0, values: [] };
  while (r.pos < r.len) {
    const key = r.uint32();
    const wire = key & 7;
    switch (key >>> 3) {
      case 1:
        if (wire === WIRE_64) e.wallTime = r.double();
        else r.skipType(wire);
        break;
      case 2:
        // int64: a protobufjs Long or a number, depending on whether long.js is present.
        if (wire === WIRE_VARINT) e.step = util.LongBits.from(r.int64()).toNumber(false);
        else r.skipType(wire);
        break;
      case 5:
        if (wire === WIRE_LEN) {
          const end = sub(r);
          while (r.pos < end) {
            const k = r.uint32();
            if (k >>> 3 === 1 && (k & 7) === WIRE_LEN) e.values.push(decodeValue(r, sub(r)));
            else r.skipType(k & 7);
          }
        } else r.skipType(wire);
        break;
      default:
        r.skipType(wire);
    }
  }
  return e;
}

/** The one number of a scalar tensor of float or double, else null (and why). */
function tensorScalar(t: Tensor): number | { unsupported: string } | null {
  if (t.dtype === DT_FLOAT) {
    if (t.floats.length === 1) return t.floats[0] as number;
    if (t.content?.length === 4) return new DataView(t.content.buffer, t.content.byteOffset, 4).getFloat32(0, true);
    return null;
  }
  if (t.dtype === DT_DOUBLE) {
    if (t.doubles.length === 1) return t.doubles[0] as number;
    if (t.content?.length === 8) return new DataView(t.content.buffer, t.content.byteOffset, 8).getFloat64(0, true);
    return null;
  }
  return { unsupported: `dtype ${t.dtype}` };
}

function describe(problem: RecordProblem, name: string, readAll: boolean): string {
  const at = `at byte ${problem.offset}`;
  if (problem.kind === 'truncated')
    return readAll
      ? `${name}: ends in an incomplete record ${at} (cut, or still being written); the steps before it are shown`
      : `${name}: read up to byte ${problem.offset} (the read limit); later steps are not shown`;
  const what = problem.kind === 'length-crc' ? 'length' : 'data';
  return `${name}: the CRC of a record's ${what} does not match ${at} (corrupt); the rest of the file is skipped`;
}

/**
 * The scalar series of one event file. `bytes` may be a prefix of the file (`complete: false`: the read stopped at a
 * limit), which only changes the wording of the warning about the last, incomplete record.
 */
export function parseEvents(bytes: Uint8Array, name = 'event file', complete = true): ParsedEvents {
  const series = new Map<string, ScalarPoint[]>();
  const warnings: string[] = [];
  const { records, problem } = readRecords(bytes);
  if (problem && problem.offset === 0 && problem.kind !== 'truncated') {
    warnings.push(`${name}: not a TensorBoard event file (no valid record at its start); ignored`);
    return { series, warnings, records: 0 };
  }
  const plugins = new Map<string, string | null>();
  const unsupported = new Set<string>();
  let undecodable = 0;
  for (const data of records) {
    let e: Event;
    try {
      e = decodeEvent(data);
    } catch {
      undecodable++;
      continue;
    }
    for (const v of e.values) {
      let value: number | null = null;
      if (v.simple !== null) value = v.simple;
      else if (v.tensor) {
        // The scalars plugin's metadata rides on a tag's first value in a file.
        if (v.plugin !== null || v.dataClass !== 0)
          plugins.set(v.tag, v.plugin === 'scalars' || v.dataClass === DATA_CLASS_SCALAR ? 'scalars' : v.plugin);
        if (plugins.get(v.tag) !== 'scalars') continue;
        const s = tensorScalar(v.tensor);
        if (s !== null && typeof s === 'object') {
          if (!unsupported.has(v.tag)) warnings.push(`${name}: tag ${v.tag}: a scalar of ${s.unsupported}, not shown`);
          unsupported.add(v.tag);
          continue;
        }
        value = s;
      }
      if (value === null || !v.tag) continue;
      const points = series.get(v.tag) ?? [];
      series.set(v.tag, points);
      points.push({ step: e.step, wallTime: e.wallTime, value });
    }
  }
  if (undecodable) warnings.push(`${name}: ${undecodable} records are not valid Event messages; skipped`);
  if (problem) warnings.push(describe(problem, name, complete));
  return { series, warnings, records: records.length };
}
