import { type Dirent, lstatSync, readdirSync, readFileSync, readlinkSync, type Stats, statSync } from 'node:fs';
import * as path from 'node:path';
import { isSafeRelativePath, StudioError } from '@studio-lite/functions/contract';
import { IgnoreRules } from './ignore-rules.ts';
import { makePortable } from './portable-names.ts';

export const DEFAULT_IGNORE_FILE = '.studioml_ignore';

export interface WalkOptions {
  /** Honour `.studioml_ignore` files (the root's and nested ones) with .gitignore semantics. */
  useIgnoreFile: boolean;
  ignoreFileName?: string;
  /** Patterns (gitignore syntax) applied even when `useIgnoreFile` is false. */
  alwaysIgnore?: string[];
}

export interface WalkFile {
  /** Relative POSIX path; for a single-file capture, the file's basename. */
  path: string;
  abs: string;
  size: number;
  mode: number;
  mtimeMs: number;
  /** Part of the stat-cache key: any in-place rewrite bumps it, even one that restores mtime. */
  ctimeMs: number;
  ino: number;
  dev: number;
}

export interface WalkLink {
  path: string;
  target: string;
}

export interface WalkResult {
  files: WalkFile[];
  links: WalkLink[];
  /** "path: reason" for entries that could not be captured. */
  skipped: string[];
  /** "path: what" for entries captured under another name (portable-names.ts). */
  notes: string[];
}

/** Hand the event loop back this often so a long walk does not freeze heartbeats or progress output. */
const YIELD_EVERY = 4096;

/**
 * Lists a folder (or one file) for capture. Symlinks are recorded, never followed; unreadable entries, sockets,
 * fifos and devices are reported in `skipped`. Throws E_NOT_FOUND when `root` does not exist.
 *
 * Sync fs calls on purpose: readdir+lstat through the thread pool is ~2x slower for many small directories, and
 * the loop yields periodically so the process stays responsive.
 */
export async function walkFolder(root: string, opts: WalkOptions): Promise<WalkResult> {
  const rootAbs = path.resolve(root);
  let rootStat: Stats;
  try {
    // The root itself is followed: capturing a symlinked folder means capturing what it points to.
    rootStat = statSync(rootAbs);
  } catch (cause) {
    const code = (cause as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR')
      throw new StudioError('E_NOT_FOUND', `${root} does not exist`, { cause });
    throw new StudioError('E_FORBIDDEN', `cannot read ${root} (${code ?? 'error'})`, { cause });
  }
  const result: WalkResult = { files: [], links: [], skipped: [], notes: [] };
  if (rootStat.isFile()) {
    const name = path.basename(rootAbs);
    if (!isSafeRelativePath(name)) result.skipped.push(`${name}: unsupported file name`);
    else result.files.push(toFile(name, rootAbs, rootStat));
    makePortable(result);
    return result;
  }
  if (!rootStat.isDirectory()) throw new StudioError('E_BAD_PATH', `${root} is neither a file nor a directory`);

  const ignoreName = opts.ignoreFileName ?? DEFAULT_IGNORE_FILE;
  const always = opts.alwaysIgnore ?? [];
  const stack: { rel: string; abs: string; rules: IgnoreRules | null }[] = [{ rel: '', abs: rootAbs, rules: null }];
  let sinceYield = 0;

  while (stack.length > 0) {
    const dir = stack.pop() as (typeof stack)[number];
    let entries: Dirent[];
    try {
      entries = readdirSync(dir.abs, { withFileTypes: true });
    } catch (err) {
      result.skipped.push(`${dir.rel || '.'}/: cannot read directory (${errCode(err)})`);
      continue;
    }
    const rules = dirRules(dir, entries, opts.useIgnoreFile ? ignoreName : null, always, result.skipped);
    const check = rules.empty ? null : rules;

    for (const ent of entries) {
      const rel = dir.rel === '' ? ent.name : `${dir.rel}/${ent.name}`;
      const abs = `${dir.abs}${path.sep}${ent.name}`;
      // readdir never yields '', '.', '..' or '/' in a name, so only these can make a manifest path invalid.
      if (ent.name.includes('\\') || rel.length > 4096) {
        result.skipped.push(`${rel}: unsupported file name (backslash or too long)`);
        continue;
      }
      // DT_UNKNOWN (some network and FUSE file systems) tells nothing: fall back to lstat.
      let st: Stats | undefined;
      let kind = direntKind(ent);
      if (kind === 'unknown') {
        try {
          st = lstatSync(abs);
        } catch (err) {
          result.skipped.push(`${rel}: cannot stat (${errCode(err)})`);
          continue;
        }
        kind = statsKind(st);
      }
      if (check?.ignores(rel, kind === 'dir')) continue;

      if (kind === 'dir') {
        stack.push({ rel, abs, rules });
      } else if (kind === 'file') {
        try {
          st ??= lstatSync(abs);
        } catch (err) {
          result.skipped.push(
            `${rel}: ${notUtf8(ent.name, err) ? 'file name is not valid UTF-8' : `cannot stat (${errCode(err)})`}`,
          );
          continue;
        }
        // Replaced by something else between readdir and lstat.
        if (!st.isFile()) result.skipped.push(`${rel}: changed type during capture`);
        else result.files.push(toFile(rel, abs, st));
      } else if (kind === 'link') {
        try {
          result.links.push({ path: rel, target: readlinkSync(abs) });
        } catch (err) {
          result.skipped.push(`${rel}: cannot read link (${errCode(err)})`);
        }
      } else {
        result.skipped.push(`${rel}: not a regular file (${kind})`);
      }
    }
    sinceYield += entries.length;
    if (sinceYield >= YIELD_EVERY) {
      sinceYield = 0;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }
  makePortable(result);
  return result;
}

/** The rules for `dir`: inherited, plus its own ignore file. Built lazily so folders without one share a chain. */
function dirRules(
  dir: { rel: string; abs: string; rules: IgnoreRules | null },
  entries: Dirent[],
  ignoreName: string | null,
  always: readonly string[],
  skipped: string[],
): IgnoreRules {
  let content: string | null = null;
  if (ignoreName !== null && entries.some((e) => e.name === ignoreName && !e.isDirectory())) {
    const rel = dir.rel === '' ? ignoreName : `${dir.rel}/${ignoreName}`;
    try {
      content = readFileSync(`${dir.abs}${path.sep}${ignoreName}`, 'utf8');
    } catch (err) {
      skipped.push(`${rel}: cannot read ignore file (${errCode(err)})`);
    }
  }
  if (dir.rules === null) {
    return always.length > 0 || content !== null ? IgnoreRules.root(always, content) : IgnoreRules.none();
  }
  return content === null ? dir.rules : dir.rules.withFile(dir.rel, content);
}

type Kind = 'file' | 'dir' | 'link' | 'fifo' | 'socket' | 'device' | 'unknown';

function direntKind(d: Dirent): Kind {
  if (d.isFile()) return 'file';
  if (d.isDirectory()) return 'dir';
  if (d.isSymbolicLink()) return 'link';
  if (d.isFIFO()) return 'fifo';
  if (d.isSocket()) return 'socket';
  if (d.isBlockDevice() || d.isCharacterDevice()) return 'device';
  return 'unknown';
}

function statsKind(s: Stats): Kind {
  if (s.isFile()) return 'file';
  if (s.isDirectory()) return 'dir';
  if (s.isSymbolicLink()) return 'link';
  if (s.isFIFO()) return 'fifo';
  if (s.isSocket()) return 'socket';
  return 'device';
}

function toFile(rel: string, abs: string, st: Stats): WalkFile {
  return {
    path: rel,
    abs,
    size: st.size,
    mode: st.mode,
    mtimeMs: st.mtimeMs,
    ctimeMs: st.ctimeMs,
    ino: st.ino,
    dev: st.dev,
  };
}

export function errCode(err: unknown): string {
  return (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
}

/** Node decodes a name that is not UTF-8 to U+FFFD, so the decoded name then names no file. */
function notUtf8(name: string, err: unknown): boolean {
  return name.includes('\uFFFD') && (err as NodeJS.ErrnoException).code === 'ENOENT';
}
