/** What a folder walk takes and gives (walk.ts); a file of their own so portable-names.ts needs no walk.ts. */

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
