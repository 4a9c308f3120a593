import { createHash } from 'node:crypto';
import * as z from 'zod';
import { StudioError } from './errors.ts';
import { SHA256_RE } from './names.ts';

/** Maximum files in one manifest; larger folders should be split into several artifacts. */
export const MAX_MANIFEST_FILES = 1_000_000;

/** Longest file or folder name (bytes of UTF-8) that Linux, macOS and Windows file systems all accept. */
export const MAX_SEGMENT_BYTES = 255;
const MAX_PATH_LENGTH = 4096;

/**
 * A manifest path is data, never a storage key: relative POSIX, no `.`/`..` segments, no NUL, no backslash,
 * no empty segment, at most 4096 UTF-16 units. (Portability rules on top: pathProblem.)
 */
export function isSafeRelativePath(p: string): boolean {
  return pathProblem(p) !== UNSAFE;
}

const UNSAFE = 'must be relative and stay inside its root';

/**
 * Why `p` is not a portable manifest path, or null when it is: safe (relative, no `.`/`..`/empty segment, no NUL or
 * backslash), valid UTF-8 (no lone surrogate: Node writes it as U+FFFD, so `s\ud800` and `s\ud801` would become one
 * file), NFC (the form Linux and Windows tools write; macOS accepts it too) and every segment at most 255 UTF-8
 * bytes. Without these rules two manifest paths can name one file on disk, or a pull fails half-way with
 * ENAMETOOLONG. One pass over the characters, no allocation: deep paths must stay cheap (issue 11).
 */
export function pathProblem(p: string): string | null {
  if (p.length === 0 || p.length > MAX_PATH_LENGTH) return UNSAFE;
  let segStart = 0;
  let segBytes = 0;
  let longest = 0;
  let lone = false;
  let maybeDecomposed = false;
  for (let i = 0; i <= p.length; i++) {
    const c = i === p.length ? SLASH : p.charCodeAt(i);
    if (c === SLASH) {
      const len = i - segStart;
      if (len === 0) return UNSAFE;
      if (len <= 2 && p.charCodeAt(segStart) === DOT && (len === 1 || p.charCodeAt(segStart + 1) === DOT)) {
        return UNSAFE;
      }
      if (segBytes > longest) longest = segBytes;
      segStart = i + 1;
      segBytes = 0;
    } else if (c === 0 || c === BACKSLASH) return UNSAFE;
    else if (c < 0x80) segBytes += 1;
    else if (c < 0x800) segBytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < p.length && isLow(p.charCodeAt(i + 1))) {
      segBytes += 4;
      i++;
    } else {
      if (c >= 0xd800 && c <= 0xdfff) lone = true;
      segBytes += 3;
    }
    // Every character below U+0300 is its own NFC form, so most paths never pay for normalize().
    if (c >= 0x300) maybeDecomposed = true;
  }
  // Safety problems above return at once; these are reported only for otherwise safe paths.
  if (lone) return 'is not valid UTF-8 (a lone surrogate)';
  if (longest > MAX_SEGMENT_BYTES) return `has a segment of ${longest} bytes (at most ${MAX_SEGMENT_BYTES})`;
  if (maybeDecomposed && p.normalize('NFC') !== p) return 'is not NFC-normalized';
  return null;
}

const SLASH = 0x2f;
const DOT = 0x2e;
const BACKSLASH = 0x5c;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

/** False when `s` holds a lone UTF-16 surrogate (no UTF-8 form). Node 20 has it; the ES2022 lib types do not. */
function isWellFormed(s: string): boolean {
  return (s as string & { isWellFormed(): boolean }).isWellFormed();
}

/** A path quoted for an error message: JSON escapes make lone surrogates and control characters visible. */
export function quotePath(p: string): string {
  const q = JSON.stringify(p);
  return q.length > 300 ? `${q.slice(0, 150)}…${q.slice(-150)}` : q;
}

const pathSchema = z.string().superRefine((p, ctx) => {
  const why = pathProblem(p);
  if (why !== null) ctx.addIssue({ code: 'custom', message: `path ${quotePath(p)} ${why}` });
});

export const fileEntrySchema = z.object({
  path: pathSchema,
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(SHA256_RE),
  mode: z.number().int().min(0).max(0o7777),
  mtime: z.number().nonnegative(),
});

export const linkEntrySchema = z.object({
  path: pathSchema,
  /** Symlink target, recorded as text and never followed (may point anywhere; restored as a link). */
  target: z
    .string()
    .min(1)
    .max(4096)
    .refine((t) => !t.includes('\0'), { message: 'NUL in link target' })
    .refine(isWellFormed, { message: 'link target is not valid UTF-8 (a lone surrogate)' }),
});

export const manifestSchema = z
  .object({
    files: z.array(fileEntrySchema).max(MAX_MANIFEST_FILES),
    links: z.array(linkEntrySchema).max(MAX_MANIFEST_FILES).default([]),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    for (const e of [...m.files, ...m.links]) {
      if (seen.has(e.path)) ctx.addIssue({ code: 'custom', message: `duplicate path ${quotePath(e.path)}` });
      seen.add(e.path);
    }
    const clash = fileAlsoFolder(seen);
    if (clash !== null)
      ctx.addIssue({ code: 'custom', message: `path ${quotePath(clash)} is both a file and a directory` });
  });

/**
 * An entry that is also a folder of another entry (`a/b` and `a/b/c`), or null. Linear in the total path length:
 * one pass of two rolling hashes over each path; at every `/` whose position equals the length of some entry, the
 * prefix hash is looked up among the entries' hashes and a hit is confirmed by comparing the strings. Checking every
 * prefix by slicing it was quadratic in depth (2,000 paths 2,040 levels deep took 15 s); sorting with "/" as the
 * lowest character still cost n log n compares of the long shared prefixes.
 */
function fileAlsoFolder(paths: Iterable<string>): string | null {
  const byHash = new Map<number, string[]>();
  const lengths = new Set<number>();
  for (const p of paths) {
    let h1 = 0;
    let h2 = 0;
    for (let i = 0; i < p.length; i++) {
      const c = p.charCodeAt(i);
      h1 = (Math.imul(h1, 31) + c) | 0;
      h2 = (Math.imul(h2, 1_000_003) + c) | 0;
    }
    const h = key(h1, h2);
    const list = byHash.get(h);
    if (list) list.push(p);
    else byHash.set(h, [p]);
    lengths.add(p.length);
  }
  for (const list of byHash.values()) {
    for (const q of list) {
      let h1 = 0;
      let h2 = 0;
      for (let i = 0; i < q.length; i++) {
        const c = q.charCodeAt(i);
        if (c === SLASH && lengths.has(i)) {
          for (const p of byHash.get(key(h1, h2)) ?? []) if (p.length === i && q.startsWith(p)) return p;
        }
        // Two 32-bit rolling hashes with different multipliers (inline: a helper returning a pair allocates).
        h1 = (Math.imul(h1, 31) + c) | 0;
        h2 = (Math.imul(h2, 1_000_003) + c) | 0;
      }
    }
  }
  return null;
}

/** Both hashes folded into a small integer: V8 keys Maps by small integers far faster than by doubles. */
function key(h1: number, h2: number): number {
  return (h1 ^ (h2 >>> 2)) & 0x3fffffff;
}

export type FileEntry = z.infer<typeof fileEntrySchema>;
export type LinkEntry = z.infer<typeof linkEntrySchema>;
export type Manifest = z.infer<typeof manifestSchema>;

/** Validates untrusted manifest JSON; throws E_BAD_MANIFEST / E_BAD_PATH with the first problem. */
export function parseManifest(input: unknown): Manifest {
  const r = manifestSchema.safeParse(input);
  if (r.success) return sortManifest(r.data);
  const issue = r.error.issues[0];
  const where = issue?.path.join('.') ?? '';
  const code = issue?.message.includes('path') ? 'E_BAD_PATH' : 'E_BAD_MANIFEST';
  throw new StudioError(code, `invalid manifest at ${where}: ${issue?.message ?? 'unknown'}`);
}

/** Canonical order so that equal contents give equal digests. */
export function sortManifest(m: Manifest): Manifest {
  const by = (a: { path: string }, b: { path: string }) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0);
  return { files: [...m.files].sort(by), links: [...m.links].sort(by) };
}

/**
 * Digest of the content that defines a version: paths, hashes, modes and link targets; mtimes are excluded so a
 * touched-but-unchanged file does not make a new version.
 */
export function manifestDigest(m: Manifest): string {
  const h = createHash('sha256');
  for (const f of m.files) h.update(`f\0${f.path}\0${f.sha256}\0${f.size}\0${f.mode & 0o111 ? 'x' : '-'}\n`);
  for (const l of m.links) h.update(`l\0${l.path}\0${l.target}\n`);
  return h.digest('hex');
}

export function manifestTotals(m: Manifest): { files: number; bytes: number } {
  let bytes = 0;
  for (const f of m.files) bytes += f.size;
  return { files: m.files.length, bytes };
}
