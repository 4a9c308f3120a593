import { createHash } from 'node:crypto';
import { z } from 'zod';
import { StudioError } from './errors.ts';
import { SHA256_RE } from './names.ts';

/** Maximum files in one manifest; larger folders should be split into several artifacts. */
export const MAX_MANIFEST_FILES = 1_000_000;

/**
 * A manifest path is data, never a storage key: relative POSIX, no `.`/`..` segments, no NUL, no backslash,
 * no empty segment, at most 4096 bytes.
 */
export function isSafeRelativePath(p: string): boolean {
  if (p.length === 0 || p.length > 4096) return false;
  if (p.includes('\0') || p.includes('\\')) return false;
  if (p.startsWith('/')) return false;
  for (const seg of p.split('/')) {
    if (seg === '' || seg === '.' || seg === '..') return false;
  }
  return true;
}

const pathSchema = z.string().refine(isSafeRelativePath, { message: 'path must be relative and stay inside its root' });

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
    .refine((t) => !t.includes('\0'), { message: 'NUL in link target' }),
});

export const manifestSchema = z
  .object({
    files: z.array(fileEntrySchema).max(MAX_MANIFEST_FILES),
    links: z.array(linkEntrySchema).max(MAX_MANIFEST_FILES).default([]),
  })
  .superRefine((m, ctx) => {
    const seen = new Set<string>();
    for (const e of [...m.files, ...m.links]) {
      if (seen.has(e.path)) ctx.addIssue({ code: 'custom', message: `duplicate path ${e.path}` });
      seen.add(e.path);
    }
    // A file may not also be a directory prefix of another entry (a/b and a/b/c).
    for (const p of seen) {
      let i = p.indexOf('/');
      while (i !== -1) {
        if (seen.has(p.slice(0, i))) {
          ctx.addIssue({ code: 'custom', message: `path ${p.slice(0, i)} is both a file and a directory` });
          return;
        }
        i = p.indexOf('/', i + 1);
      }
    }
  });

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
