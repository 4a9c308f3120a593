// A full disk is its own error. $STUDIOML_HOME lives on a 50 MB tmpfs (mounted here when the test may: root with
// mount rights; skipped with the reason printed otherwise). A run whose script exits 0 but whose final capture
// cannot be stored: E_NO_SPACE naming the path and the size, exit 1, the record says finished/exit 0 with the failed
// capture as a warning, no version and no temp file; while full, other commands fail with E_NO_SPACE (not "disk I/O
// error"); once space is freed the same capture succeeds.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  assertPrivateHome,
  cli,
  cliOk,
  errorLine,
  type Sandbox,
  sha256File,
  showJson,
  storeBlobFiles,
  useSandboxes,
} from './helpers.ts';

const sandbox = useSandboxes();
const mnt = mkdtempSync(join(tmpdir(), 'sl-e2e-tmpfs-'));
let skipReason: string | null = null;
try {
  execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=50m,mode=0700', 'tmpfs', mnt], { stdio: 'pipe' });
} catch (err) {
  skipReason = `cannot mount a tmpfs here (${String((err as { stderr?: Buffer }).stderr ?? err).trim()}); needs root`;
  console.warn(`disk-full.test.ts skipped: ${skipReason}`);
}

beforeAll(() => {
  if (!skipReason) mkdirSync(join(mnt, 'home'), { mode: 0o700 });
});
afterAll(() => {
  if (!skipReason) execFileSync('umount', [mnt]);
  rmSync(mnt, { recursive: true, force: true });
});

function onTmpfs(): Sandbox {
  const sb = sandbox();
  sb.env.STUDIOML_HOME = join(mnt, 'home');
  return sb;
}

describe.skipIf(skipReason !== null)('disk full (home on a 50 MB tmpfs)', () => {
  it('E_NO_SPACE with path and size, the script exit code kept, nothing half-written, works again once freed', async () => {
    const sb = onTmpfs();
    const home = join(mnt, 'home');
    writeFileSync(join(sb.cwd, 'train.py'), 'print(1)\n');
    mkdirSync(join(sb.cwd, 'out'));
    // 28 MB of ballast on the same device leaves ~22 MB for a capture of 2 x 12 MB.
    const ballast = join(mnt, 'ballast');
    writeFileSync(ballast, Buffer.alloc(28 << 20, 1));
    const write = 'head -c 12582912 /dev/urandom > out/a.bin; head -c 12582912 /dev/urandom > out/b.bin; exit 0';
    const r = await cli(sb, ['run', '-e', 'full', '-c', './out:weights', '--', 'sh', '-c', write]);
    expect(r.code, r.stderr).toBe(1);
    // `run` also prints its progress lines; the error is the one coded line.
    const coded = r.stderr.split('\n').filter((l) => /^studio-lite: E_/.test(l));
    expect(coded, r.stderr).toHaveLength(1);
    const err = errorLine(coded.join('\n'));
    expect(err.code).toBe('E_NO_SPACE');
    expect(err.message).toContain(join(home, 'store'));
    expect(err.message).toMatch(/needed 12\.0 MiB \(12582912 bytes\)/);
    expect(r.stderr).not.toMatch(/internal error|disk I\/O error/);

    const show = await showJson(sb, 'full');
    expect(show.experiment.status).toBe('finished');
    expect(show.experiment.exitCode).toBe(0);
    expect(show.experiment.warnings.some((w) => w.startsWith('final capture of weights failed: no space left'))).toBe(
      true,
    );
    expect(show.artifacts.map((a) => a.tag)).not.toContain('weights'); // no partial version
    expect(readdirSync(join(home, 'store', '.tmp'))).toEqual([]); // no temp file left behind
    // No short blob under a content address (writev wrote part of it before the disk filled).
    for (const f of storeBlobFiles(home)) expect(sha256File(f), f).toBe(basename(f));

    // Completely full: the next command fails with the same coded error, not "disk I/O error".
    const fill = join(mnt, 'fill');
    try {
      execFileSync('sh', ['-c', `head -c 100000000 /dev/zero > ${fill}`], { stdio: 'ignore' });
    } catch {
      // ENOSPC is the point
    }
    const full = await cli(sb, ['experiments']);
    expect(full.code, full.stderr).toBe(1);
    expect(errorLine(full.stderr).code).toBe('E_NO_SPACE');

    rmSync(fill);
    rmSync(ballast);
    await cliOk(sb, ['run', '-e', 'after', '-c', './out:weights', '--', 'true']);
    const after = await showJson(sb, 'after');
    expect(after.experiment.status).toBe('finished');
    expect(after.artifacts.find((a) => a.tag === 'weights')?.versions[0]?.files).toBe(2);
    assertPrivateHome(home);
  });
});
