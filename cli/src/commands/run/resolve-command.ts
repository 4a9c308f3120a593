import { accessSync, closeSync, constants, openSync, readSync, statSync } from 'node:fs';
import { delimiter, isAbsolute, join, resolve } from 'node:path';
import { StudioError } from '@studio-lite/functions/contract';

export interface ResolveOptions {
  cwd: string;
  /** PATH to look commands up in. */
  path: string | undefined;
  /**
   * Check that programs exist on this machine's PATH. Off for `--queue`: a worker has its own PATH (CUDA tools, a
   * venv); the script file itself is still checked, since the workspace it runs from is captured here.
   */
  checkPath: boolean;
}

/** Interpreters whose first non-option argument is a script file we can check before anything is stored. */
const INTERPRETERS = /^(python(\d+(\.\d+)?)?|bash|sh|zsh|node|Rscript|perl|ruby)$/;

const bad = (message: string) => new StudioError('E_BAD_COMMAND', message);

/**
 * The command `run` was given: `run -- CMD ARGS` (CMD as given) or `run WORD ARGS`, resolved by resolveCommand.
 * `raw` is the words after `run`, to tell `--` from an option-less first word.
 */
export function commandFromArgs(
  script: string | undefined,
  args: string[],
  raw: string[],
  o: ResolveOptions,
): string[] {
  if (!script) throw bad('run needs SCRIPT.py, SCRIPT.sh or -- CMD [ARGS...]');
  const dashdash = raw.indexOf('--');
  const firstOperand = raw.findIndex((w, i) => i > dashdash && w === script);
  return resolveCommand(script, args, dashdash !== -1 && firstOperand === dashdash + 1, o);
}

/**
 * The argv `run` will spawn, resolved before an experiment is recorded, so a command that cannot start stores
 * nothing (E_BAD_COMMAND). `run -- CMD ARGS` runs CMD as given. `run WORD ARGS` runs the file WORD when it exists: its
 * shebang wins, then `.py` → python3 and `.sh` → bash, then an executable runs itself; a WORD that is no file but a
 * command on PATH (`run python3 train.py`) runs that command, so the interpreter is never doubled.
 */
export function resolveCommand(script: string, args: string[], afterDashDash: boolean, o: ResolveOptions): string[] {
  if (afterDashDash) return checkProgram([script, ...args], o);
  const file = resolve(o.cwd, script);
  const st = statOrNull(file);
  if (st?.isDirectory()) throw bad(`${script} is a folder, not a script (run SCRIPT.py, SCRIPT.sh or -- CMD ARGS)`);
  if (st) {
    const shebang = readShebang(file);
    if (shebang) return checkProgram([...interpreterOf(shebang), script, ...args], o);
    if (/\.py$/i.test(script)) return checkProgram(['python3', script, ...args], o);
    if (/\.sh$/i.test(script)) return checkProgram(['bash', script, ...args], o);
    if (isExecutable(file)) return [script.includes('/') ? script : `./${script}`, ...args];
    throw bad(`don't know how to run ${script}: no #! line, not .py or .sh, and not executable (chmod +x it)`);
  }
  if (script.includes('/') || /\.(py|sh)$/i.test(script)) {
    throw bad(`script ${script} not found in ${o.cwd}`);
  }
  if (!o.checkPath || findOnPath(script, o.path)) return checkProgram([script, ...args], o);
  throw bad(`${script}: no such file in ${o.cwd} and no such command on PATH`);
}

/** The program exists (on PATH or as a path), and an interpreter's script argument exists too. */
function checkProgram(argv: string[], o: ResolveOptions): string[] {
  const [program, ...rest] = argv as [string, ...string[]];
  if (program.includes('/')) {
    const p = resolve(o.cwd, program);
    if (!statOrNull(p)) throw bad(`${program} not found${isAbsolute(program) ? '' : ` in ${o.cwd}`}`);
    if (!isExecutable(p)) throw bad(`${program} is not executable (chmod +x it, or name its interpreter)`);
  } else if (o.checkPath && !findOnPath(program, o.path)) {
    throw bad(`command not found: ${program} (not on PATH)`);
  }
  const base = program.split('/').at(-1) ?? program;
  const first = rest[0];
  if (INTERPRETERS.test(base) && first !== undefined && !first.startsWith('-')) {
    const st = statOrNull(resolve(o.cwd, first));
    if (!st) throw bad(`script ${first} not found in ${o.cwd}`);
    if (st.isDirectory() && !/^python/.test(base)) throw bad(`${first} is a folder, not a script`);
  }
  return argv;
}

/** `/usr/bin/env [-S] python3 -u` → ['python3', '-u'] (looked up on PATH like env does); others as written. */
function interpreterOf(shebang: string[]): string[] {
  if (shebang[0]?.split('/').at(-1) !== 'env' || shebang.length < 2) return shebang;
  return shebang.slice(1).filter((w) => w !== '-S');
}

/** `#!/usr/bin/env python3 -u` → ['/usr/bin/env', 'python3', '-u']; null without a #! line. */
export function readShebang(file: string): string[] | null {
  const buf = Buffer.alloc(256);
  let fd: number;
  try {
    fd = openSync(file, 'r');
  } catch {
    return null;
  }
  try {
    const n = readSync(fd, buf, 0, buf.length, 0);
    const head = buf.subarray(0, n).toString('utf8');
    if (!head.startsWith('#!')) return null;
    const words = (head.slice(2).split('\n')[0] ?? '').trim().split(/\s+/).filter(Boolean);
    return words.length > 0 ? words : null;
  } finally {
    closeSync(fd);
  }
}

function statOrNull(p: string) {
  try {
    return statSync(p);
  } catch {
    return null;
  }
}

function isExecutable(p: string): boolean {
  try {
    accessSync(p, constants.X_OK);
    return statSync(p).isFile();
  } catch {
    return false;
  }
}

/** The first executable `name` in PATH, or null. */
export function findOnPath(name: string, path: string | undefined): string | null {
  for (const dir of (path ?? '').split(delimiter)) {
    if (!dir) continue;
    const p = join(dir, name);
    if (isExecutable(p)) return p;
  }
  return null;
}
