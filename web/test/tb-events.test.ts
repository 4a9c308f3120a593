import { describe, expect, it } from 'vitest';
import { parseEvents } from '../src/tb/events.ts';
import { maskedCrc32c, readRecords } from '../src/tb/tfrecord.ts';
import { concat, eventBytes, eventFile, record } from './tb-writer.ts';

const steps = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);
const f32 = (x: number) => Math.fround(x);

describe('TFRecord framing', () => {
  it('masks CRC32C as TensorFlow does (its crc32c_test vectors, and unmask(mask(c)) = c)', () => {
    const unmask = (m: number) => {
      const rot = (m - 0xa282ead8) >>> 0;
      return ((rot >>> 17) | (rot << 15)) >>> 0;
    };
    // CRC32C check values: "123456789", 32 zero bytes, 32 0xff bytes (RFC 3720 B.4 / TensorFlow's tests).
    expect(unmask(maskedCrc32c(new TextEncoder().encode('123456789')))).toBe(0xe3069283);
    expect(unmask(maskedCrc32c(new Uint8Array(32)))).toBe(0x8a9136aa);
    expect(unmask(maskedCrc32c(new Uint8Array(32).fill(0xff)))).toBe(0x62a8ab43);
    expect(maskedCrc32c(new Uint8Array(32))).not.toBe(0x8a9136aa);
  });

  it('reads records back as views of the bytes, and nothing from an empty file', () => {
    const a = new Uint8Array([1, 2, 3]);
    const b = new Uint8Array(0);
    const { records, problem } = readRecords(concat([record(a), record(b), record(a)]));
    expect(problem).toBeNull();
    expect(records.map((r) => [...r])).toEqual([[1, 2, 3], [], [1, 2, 3]]);
    expect(readRecords(new Uint8Array(0))).toEqual({ records: [], problem: null });
  });
});

describe('parseEvents', () => {
  it('TF1 simple_value scalars: every tag, steps, wall times, float32 values', () => {
    const bytes = eventFile(steps(1000), (s) => [
      { tag: 'loss', simple: 1 / s },
      ...(s % 10 === 0 ? [{ tag: 'eval/accuracy', simple: s / 1000 }] : []),
    ]);
    const p = parseEvents(bytes, 'events.out.tfevents.1');
    expect(p.warnings).toEqual([]);
    expect(p.records).toBe(1001);
    expect([...p.series.keys()]).toEqual(['loss', 'eval/accuracy']);
    const loss = p.series.get('loss') ?? [];
    expect(loss).toHaveLength(1000);
    expect(loss[0]).toEqual({ step: 1, wallTime: 1_700_000_000.1, value: 1 });
    expect(loss.at(-1)).toEqual({ step: 1000, wallTime: 1_700_000_100, value: f32(1 / 1000) });
    expect(p.series.get('eval/accuracy')?.map((x) => x.step)).toEqual(steps(100).map((s) => s * 10));
  });

  it('TF2 tensor scalars: float_val, double_val and tensor_content; metadata only on the first value of a tag', () => {
    const bytes = eventFile(steps(5), (s) => [
      { tag: 'f', tensor: { dtype: 1, value: s + 0.5, as: 'val' }, meta: s === 1 },
      { tag: 'd', tensor: { dtype: 2, value: s / 3, as: 'val' }, meta: s === 1 },
      { tag: 'c32', tensor: { dtype: 1, value: s * 0.1, as: 'content' }, meta: s === 1 },
      { tag: 'c64', tensor: { dtype: 2, value: s * 0.1, as: 'content' }, meta: s === 1 },
      // Not scalars: a tensor whose tag never had the scalars plugin, and one of another plugin.
      { tag: 'no-meta', tensor: { dtype: 1, value: s, as: 'val' } },
      { tag: 'text', tensor: { dtype: 1, value: s, as: 'val' }, plugin: 'text' },
    ]);
    const p = parseEvents(bytes);
    expect(p.warnings).toEqual([]);
    expect([...p.series.keys()]).toEqual(['f', 'd', 'c32', 'c64']);
    expect(p.series.get('f')?.map((x) => x.value)).toEqual([1.5, 2.5, 3.5, 4.5, 5.5]);
    expect(p.series.get('d')?.map((x) => x.value)).toEqual(steps(5).map((s) => s / 3));
    expect(p.series.get('c32')?.map((x) => x.value)).toEqual(steps(5).map((s) => f32(s * 0.1)));
    expect(p.series.get('c64')?.map((x) => x.value)).toEqual(steps(5).map((s) => s * 0.1));
    expect(p.series.get('d')?.map((x) => x.step)).toEqual(steps(5));
  });

  it('a scalars tensor of another dtype is named in one warning', () => {
    const p = parseEvents(
      eventFile(steps(3), () => [{ tag: 'count', tensor: { dtype: 3, value: 7, as: 'val' }, meta: true }]),
      'ev',
    );
    expect(p.series.size).toBe(0);
    expect(p.warnings).toEqual(['ev: tag count: a scalar of dtype 3, not shown']);
  });

  it('events without scalars (a graph) are read past', () => {
    const bytes = concat([
      record(eventBytes({ wallTime: 1, step: 0, graphDef: new Uint8Array(5000).fill(9) })),
      record(eventBytes({ wallTime: 2, step: 7, values: [{ tag: 'x', simple: 0.5 }] })),
    ]);
    const p = parseEvents(bytes);
    expect(p).toEqual({ series: new Map([['x', [{ step: 7, wallTime: 2, value: 0.5 }]]]), warnings: [], records: 2 });
  });

  it('steps past 2^32 (int64 varints) and a step 0 event', () => {
    const big = 2 ** 40 + 3;
    const bytes = concat([
      record(eventBytes({ wallTime: 1, step: 0, values: [{ tag: 'x', simple: 1 }] })),
      record(eventBytes({ wallTime: 2, step: big, values: [{ tag: 'x', simple: 2 }] })),
    ]);
    expect(
      parseEvents(bytes)
        .series.get('x')
        ?.map((x) => x.step),
    ).toEqual([0, big]);
  });

  const ten = () => eventFile(steps(10), (s) => [{ tag: 'loss', simple: s }]);
  /** Where record `i` (0 = file_version) starts. */
  const offsetOf = (bytes: Uint8Array, i: number) => {
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    let at = 0;
    for (let k = 0; k < i; k++) at += 16 + view.getUint32(at, true);
    return at;
  };

  it("a corrupt CRC of a record's length stops the file there, with a warning", () => {
    const bytes = ten();
    const at = offsetOf(bytes, 6);
    bytes[at + 8] = (bytes[at + 8] as number) ^ 0x01; // the length's CRC
    const p = parseEvents(bytes, 'run/events.out.tfevents.2');
    expect(p.series.get('loss')?.map((x) => x.step)).toEqual(steps(5));
    expect(p.warnings).toEqual([
      `run/events.out.tfevents.2: the CRC of a record's length does not match at byte ${at} (corrupt); the rest of the file is skipped`,
    ]);
  });

  it('a changed length (its CRC no longer matches) is refused, not followed', () => {
    const bytes = ten();
    const at = offsetOf(bytes, 3);
    bytes[at] = (bytes[at] as number) + 1;
    const p = parseEvents(bytes);
    expect(p.series.get('loss')?.map((x) => x.step)).toEqual([1, 2]);
    expect(p.warnings[0]).toContain("CRC of a record's length does not match");
  });

  it("a corrupt data byte (the data's CRC does not match) stops the file there", () => {
    const bytes = ten();
    const at = offsetOf(bytes, 8);
    bytes[at + 14] = (bytes[at + 14] as number) ^ 0xff;
    const p = parseEvents(bytes, 'ev');
    expect(p.series.get('loss')?.map((x) => x.step)).toEqual(steps(7));
    expect(p.warnings).toEqual([
      `ev: the CRC of a record's data does not match at byte ${at} (corrupt); the rest of the file is skipped`,
    ]);
  });

  it('a truncated file keeps the steps before the cut; a read limit says so instead', () => {
    const bytes = ten();
    const at = offsetOf(bytes, 10);
    for (const cut of [at + 3, at + 12, bytes.length - 1]) {
      const p = parseEvents(bytes.subarray(0, cut), 'ev');
      expect(p.series.get('loss')?.map((x) => x.step)).toEqual(steps(9));
      expect(p.warnings).toEqual([
        `ev: ends in an incomplete record at byte ${at} (cut, or still being written); the steps before it are shown`,
      ]);
    }
    const limited = parseEvents(bytes.subarray(0, at + 5), 'ev', false);
    expect(limited.warnings).toEqual([`ev: read up to byte ${at} (the read limit); later steps are not shown`]);
  });

  it('a file that is not an event file is ignored with one warning', () => {
    for (const text of ['hello, this is a text file named like an event file\n', 'short']) {
      const p = parseEvents(new TextEncoder().encode(text), 'events.out.tfevents.txt');
      expect(p.series.size).toBe(0);
      expect(p.warnings).toHaveLength(1);
    }
    expect(parseEvents(new TextEncoder().encode('hello, this is a text file'), 'x').warnings).toEqual([
      'x: not a TensorBoard event file (no valid record at its start); ignored',
    ]);
    // Valid framing around bytes that are not an Event: counted, skipped, the rest read.
    const junk = concat([record(new Uint8Array([0x0a, 0xff, 0x01])), ten()]);
    const p = parseEvents(junk, 'ev');
    expect(p.series.get('loss')).toHaveLength(10);
    expect(p.warnings).toEqual(['ev: 1 records are not valid Event messages; skipped']);
  });

  it('an empty file has no series and no warning', () => {
    expect(parseEvents(new Uint8Array(0))).toEqual({ series: new Map(), warnings: [], records: 0 });
  });
});
