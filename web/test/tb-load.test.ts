// loadScalars against a stand-in API (fetch stubbed): the manifest, one downloads request for the event files, a
// pack's signed range fetched once for its members, a blob of its own, the byte budget, runs and their merge.
import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { byStep, isEventFile, loadScalars } from '../src/tb/load.ts';
import { concat, eventFile } from './tb-writer.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const steps = (n: number, from = 1) => Array.from({ length: n }, (_, i) => i + from);

/** Files of tb@1: `packed` ones stored in one pack (served as one signed range), the others as blobs of their own. */
function stubApi(files: { path: string; bytes: Uint8Array; packed?: boolean }[]) {
  const calls: string[] = [];
  const packed = files.filter((f) => f.packed);
  const pack = concat(packed.map((f) => f.bytes));
  const offsets = new Map<string, number>();
  let at = 1000; // where the first member starts in its pack object
  for (const f of packed) {
    offsets.set(sha(f.bytes), at);
    at += f.bytes.length;
  }
  const blobs = new Map(files.filter((f) => !f.packed).map((f) => [sha(f.bytes), f.bytes]));
  vi.stubGlobal('fetch', async (url: string, init?: { method?: string; body?: string }) => {
    calls.push(`${init?.method ?? 'GET'} ${url}`);
    if (url === '/v1/experiments/e1/artifacts/tb/versions/1')
      return Response.json({
        version: {
          manifest: {
            files: files.map((f) => ({
              path: f.path,
              size: f.bytes.length,
              sha256: sha(f.bytes),
              mode: 0o644,
              mtime: 0,
            })),
            links: [],
          },
        },
      });
    if (url === '/v1/experiments/e1/artifacts/tb/versions/1/downloads') {
      const asked = (JSON.parse(init?.body ?? '{}') as { sha256s: string[] }).sha256s;
      const members = asked
        .filter((s) => offsets.has(s))
        .map((s) => ({ sha256: s, size: 0, offset: offsets.get(s) as number }));
      return Response.json({
        blobs: asked
          .filter((s) => blobs.has(s))
          .map((s) => ({ sha256: s, request: { url: `blob:${s}`, headers: {} } })),
        packs: members.length ? [{ request: { url: 'pack:1', headers: {} }, members }] : [],
      });
    }
    if (url === 'pack:1') return new Response(pack as Uint8Array<ArrayBuffer>);
    const blob = blobs.get(url.slice('blob:'.length));
    if (blob) return new Response(blob as Uint8Array<ArrayBuffer>);
    return new Response('{}', { status: 404 });
  });
  return calls;
}

afterEach(() => vi.unstubAllGlobals());

describe('loadScalars', () => {
  it('reads every event file once (a pack once for its members), merges runs by folder, ignores other files', async () => {
    const top1 = eventFile(steps(50), (s) => [{ tag: 'loss', simple: s }]);
    // A restarted writer: a second file in the same folder repeats steps 41-50 and goes on to 60.
    const top2 = eventFile(steps(20, 41), (s) => [{ tag: 'loss', simple: -s }]);
    const val = eventFile([10, 20], (s) => [{ tag: 'loss', simple: s / 10 }]);
    const big = eventFile(steps(500), (s) => [{ tag: 'acc', simple: s / 500 }]);
    const calls = stubApi([
      { path: 'events.out.tfevents.1.host', bytes: top1, packed: true },
      { path: 'events.out.tfevents.2.host', bytes: top2, packed: true },
      { path: 'eval/events.out.tfevents.1.host', bytes: val, packed: true },
      { path: 'train/events.out.tfevents.1.host', bytes: big },
      { path: 'notes.txt', bytes: new TextEncoder().encode('not read') },
    ]);
    const s = await loadScalars('e1', 1);
    expect(s.warnings).toEqual([]);
    expect(s.files).toBe(4);
    expect(s.bytesRead).toBe(top1.length + top2.length + val.length + big.length);
    expect([...s.tags.keys()]).toEqual(['acc', 'loss']);
    const loss = s.tags.get('loss') ?? [];
    expect(loss.map((r) => r.run)).toEqual(['', 'eval']);
    expect(loss[0]?.points.map((p) => p.step)).toEqual(steps(60));
    expect(loss[0]?.points.slice(38, 42).map((p) => p.value)).toEqual([39, 40, -41, -42]);
    expect(s.tags.get('acc')?.[0]).toMatchObject({ run: 'train' });
    expect(s.tags.get('acc')?.[0]?.points).toHaveLength(500);
    expect(calls.filter((c) => c.startsWith('POST'))).toHaveLength(1);
    expect(calls.filter((c) => c === 'GET pack:1')).toHaveLength(1);
    expect(calls.filter((c) => c.includes('blob:'))).toHaveLength(1);

    // The same version again: nothing downloaded (parsed files are kept by content).
    const again = stubApi([
      { path: 'events.out.tfevents.1.host', bytes: top1, packed: true },
      { path: 'events.out.tfevents.2.host', bytes: top2, packed: true },
      { path: 'eval/events.out.tfevents.1.host', bytes: val, packed: true },
      { path: 'train/events.out.tfevents.1.host', bytes: big },
    ]);
    expect((await loadScalars('e1', 1)).tags.get('loss')?.[0]?.points).toHaveLength(60);
    expect(again).toEqual(['GET /v1/experiments/e1/artifacts/tb/versions/1']);
  });

  it('reads at most the byte budget: the file at the limit in part, later files not at all', async () => {
    const a = eventFile(steps(200), (s) => [{ tag: 'x', simple: s }]);
    const b = eventFile(steps(100), (s) => [{ tag: 'y', simple: s }]);
    stubApi([
      { path: 'a/events.out.tfevents.1', bytes: a },
      { path: 'b/events.out.tfevents.1', bytes: b },
    ]);
    expect(a.length).toBeGreaterThan(4096);
    const s = await loadScalars('e1', 1, { bytes: 2048, files: 10 });
    expect(s.bytesRead).toBe(2048);
    const x = s.tags.get('x')?.[0]?.points ?? [];
    expect(x.length).toBeGreaterThan(20);
    expect(x.length).toBeLessThan(200);
    expect(s.tags.has('y')).toBe(false);
    expect(s.warnings).toEqual([
      '1 event file not read: at most 2.0 KiB of event files are read',
      expect.stringMatching(
        /^a\/events\.out\.tfevents\.1: read up to byte \d+ \(the read limit\); later steps are not shown$/,
      ),
    ]);
  });

  it('names: TensorBoard reads files with "tfevents" in their name', () => {
    expect(isEventFile('run/events.out.tfevents.1700000000.host.123.0')).toBe(true);
    expect(isEventFile('events.out.tfevents.x.v2')).toBe(true);
    expect(isEventFile('tfevents-dir/notes.txt')).toBe(false);
  });

  it('byStep: ordered by step, the last of equal steps kept', () => {
    const p = (step: number, value: number) => ({ step, wallTime: 0, value });
    expect(byStep([p(3, 1), p(1, 1), p(2, 1), p(1, 2), p(3, 2)])).toEqual([p(1, 2), p(2, 1), p(3, 2)]);
  });
});
