// commands/push/memory-blobs.ts: a push's small blobs are verified like a cache ingest before they are uploaded.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MemoryBlobs } from '../../src/commands/push/memory-blobs.ts';

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
async function* chunks(...parts: Buffer[]) {
  for (const p of parts) yield p;
}

describe('MemoryBlobs', () => {
  it('keeps verified bytes and reports only what it lacks', async () => {
    const m = new MemoryBlobs();
    const a = Buffer.from('alpha');
    const range = Buffer.from('xxbetayy');
    await m.ingest(sha(a), a.length, chunks(a.subarray(0, 2), a.subarray(2)));
    await m.ingestMany([{ sha256: sha(Buffer.from('beta')), data: range.subarray(2, 6) }]);
    expect(m.bytes.get(sha(a))?.toString()).toBe('alpha');
    expect(m.bytes.get(sha(Buffer.from('beta')))?.toString()).toBe('beta');
    const c = Buffer.from('gamma');
    expect(
      m
        .absent([
          { sha256: sha(a), size: 5 },
          { sha256: sha(c), size: 5 },
        ])
        .map((b) => b.sha256),
    ).toEqual([sha(c)]);
  });

  it('refuses wrong bytes (none of a batch enters), a short body as retryable, a long one at once', async () => {
    const m = new MemoryBlobs();
    const ok = Buffer.from('fine');
    await expect(
      m.ingestMany([
        { sha256: sha(ok), data: ok },
        { sha256: sha(Buffer.from('other')), data: Buffer.from('wrong') },
      ]),
    ).rejects.toMatchObject({ code: 'E_HASH_MISMATCH' });
    expect(m.bytes.size).toBe(0);
    await expect(m.ingest(sha(ok), 4, chunks(Buffer.from('fi')))).rejects.toMatchObject({
      code: 'E_HASH_MISMATCH',
      details: { retryable: true },
    });
    await expect(m.ingest(sha(ok), 4, chunks(Buffer.from('fine!')))).rejects.toMatchObject({ code: 'E_HASH_MISMATCH' });
    expect(m.bytes.size).toBe(0);
  });
});
