/**
 * TFRecord framing, the container of TensorBoard event files: each record is a little-endian uint64 length, the
 * masked CRC32C of those 8 bytes, the data, and the masked CRC32C of the data. Both CRCs are checked.
 */
import CRC32C from 'crc-32/crc32c.js';

const MASK_DELTA = 0xa282ead8;

/** TensorFlow's masked CRC32C: rotate right by 15 bits, plus a constant (uint32). */
export function maskedCrc32c(bytes: Uint8Array): number {
  const crc = CRC32C.buf(bytes) >>> 0;
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + MASK_DELTA) >>> 0;
}

/** Why reading stopped before the end: a CRC that does not match, or a record cut short. */
export interface RecordProblem {
  kind: 'length-crc' | 'data-crc' | 'truncated';
  /** Where the record that failed starts. */
  offset: number;
}

/** The records' data (views into `bytes`, no copies) up to the first bad or incomplete record. */
export function readRecords(bytes: Uint8Array): { records: Uint8Array[]; problem: RecordProblem | null } {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const records: Uint8Array[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (bytes.length - at < 12) return { records, problem: { kind: 'truncated', offset: at } };
    if (view.getUint32(at + 8, true) !== maskedCrc32c(bytes.subarray(at, at + 8)))
      return { records, problem: { kind: 'length-crc', offset: at } };
    const high = view.getUint32(at + 4, true);
    const len = view.getUint32(at, true);
    const end = at + 12 + len + 4;
    // A length past the end of what was read (a uint64 over 4 GiB certainly is).
    if (high !== 0 || end > bytes.length) return { records, problem: { kind: 'truncated', offset: at } };
    const data = bytes.subarray(at + 12, at + 12 + len);
    if (view.getUint32(at + 12 + len, true) !== maskedCrc32c(data))
      return { records, problem: { kind: 'data-crc', offset: at } };
    records.push(data);
    at = end;
  }
  return { records, problem: null };
}
