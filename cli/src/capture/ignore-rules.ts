import ignore, { type Ignore } from 'ignore';

/**
 * The ignore files seen on the way from the capture root down to one directory. Git semantics: a deeper file
 * overrides a shallower one, and each file's patterns are relative to the directory that holds it.
 */
export class IgnoreRules {
  private constructor(private readonly levels: readonly { base: string; ig: Ignore }[]) {}

  /** Rules for the capture root: `alwaysIgnore` patterns plus the root's ignore file, if any. */
  static root(alwaysIgnore: readonly string[], rootFile: string | null): IgnoreRules {
    const ig = ignore().add([...alwaysIgnore]);
    if (rootFile !== null) ig.add(rootFile);
    return new IgnoreRules([{ base: '', ig }]);
  }

  static none(): IgnoreRules {
    return new IgnoreRules([]);
  }

  /** Rules for a subdirectory `base` (relative POSIX) that has its own ignore file. */
  withFile(base: string, content: string): IgnoreRules {
    return new IgnoreRules([...this.levels, { base, ig: ignore().add(content) }]);
  }

  get empty(): boolean {
    return this.levels.length === 0;
  }

  /** `rel` is relative to the capture root; directories are matched with a trailing slash, as git does. */
  ignores(rel: string, isDir: boolean): boolean {
    let ignored = false;
    for (const { base, ig } of this.levels) {
      const sub = base === '' ? rel : rel.slice(base.length + 1);
      const r = ig.test(isDir ? `${sub}/` : sub);
      if (r.ignored) ignored = true;
      else if (r.unignored) ignored = false;
    }
    return ignored;
  }
}
