// Retention policies with the real binary (issue 18): `retention set --keep-last 2`, a dry run that deletes nothing
// and lists the versions, an apply that deletes exactly them (an aliased version stays), two gc runs that then free
// their blobs, a viewer who may dry-run but not set or apply, and `studio-lite serve` applying the policy at its start
// (audited as the schedule).
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditEntry, RetentionPolicy, RetentionReport } from '../../../functions/src/contract/index.ts';
import {
  artifact,
  cli,
  cliOk,
  collect,
  errorLine,
  freePort,
  makeSandbox,
  removeSandbox,
  type Sandbox,
  sha256,
  showJson,
  startCli,
  storeBlobFiles,
  waitFor,
} from './helpers.ts';

let sb: Sandbox & { dirs: string[] };
let dir: string;
/** The content of w@N (300 KB: a blob file of its own, not packed, so gc's deletes show on disk). */
const contents = new Map<number, Buffer>();

/** One more run of `exp` capturing `w` with new content (w@N for the Nth run). */
async function newVersion(): Promise<void> {
  const n = contents.size + 1;
  const data = randomBytes(300_000);
  contents.set(n, data);
  writeFileSync(join(dir, 'weights.bin'), data);
  await cliOk(sb, ['run', '-q', '-e', 'exp', ...(n > 1 ? ['--resume'] : []), '-c', `${dir}:w`, '--', 'true']);
}

const json = async <T>(args: string[], s: Pick<Sandbox, 'cwd' | 'env'> = sb): Promise<T> =>
  JSON.parse((await cliOk(s, args)).stdout) as T;
const versionsOf = async (s: Pick<Sandbox, 'cwd' | 'env'> = sb) =>
  artifact(await showJson(s, 'exp'), 'w').versions.map((v) => v.version);
const blobFileOf = (n: number) => storeBlobFiles(sb.home).find((f) => f.endsWith(sha256(contents.get(n) as Buffer)));
const retentionAudit = async (s: Pick<Sandbox, 'cwd' | 'env'> = sb) =>
  (await json<{ entries: AuditEntry[] }>(['audit', '--json', '--action', 'retention.apply'], s)).entries;

beforeAll(async () => {
  sb = makeSandbox();
  sb.env.STUDIOML_GC_MIN_GRACE_SECONDS = '0';
  dir = join(sb.tmp(), 'w');
  mkdirSync(dir);
  for (let i = 0; i < 5; i++) await newVersion();
}, 120_000);
afterAll(() => removeSandbox(sb));

describe('retention with the embedded backend', () => {
  it('set --keep-last 2; apply --dry-run deletes nothing; apply deletes exactly those; the aliased @1 stays', async () => {
    expect(await versionsOf()).toEqual([1, 2, 3, 4, 5]);
    const set = await json<{ policy: RetentionPolicy }>(['retention', 'set', '--keep-last', '2', '--json']);
    expect(set.policy).toMatchObject({
      team: 'local',
      project: null,
      keepLast: 2,
      keepDaily: null,
      updatedBy: 'local',
    });
    const shown = await json<{ policies: RetentionPolicy[] }>(['retention', 'show', '--json']);
    expect(shown.policies).toEqual([set.policy]);
    await cliOk(sb, ['alias', 'exp/w@1', 'best']);

    const dry = await json<RetentionReport>(['retention', 'apply', '--dry-run', '--json']);
    expect(dry).toMatchObject({ dryRun: true, experiments: 1, expired: [], truncated: false });
    expect(dry.deletions.filter((d) => d.tag === 'w')).toEqual([{ experiment: 'exp', tag: 'w', versions: [2, 3] }]);
    expect(dry.protected).toContainEqual({ experiment: 'exp', tag: 'w', version: 1, reason: 'alias' });
    // Every deletion is of a mutable artifact (w, output); the immutable workspace is never listed.
    expect(dry.deletions.every((d) => ['w', 'output'].includes(d.tag))).toBe(true);
    expect(dry.bytes).toBeGreaterThanOrEqual(2 * 300_000);
    expect(await versionsOf()).toEqual([1, 2, 3, 4, 5]);
    expect(await retentionAudit()).toEqual([]);
    const text = await cliOk(sb, ['retention', 'apply', '--dry-run']);
    expect(text.stdout).toContain('would delete');
    expect(text.stdout).toContain('exp/w: @2-3');
    expect(text.stdout).toContain('exp/w@1: alias');

    const applied = await json<RetentionReport>(['retention', 'apply', '--json']);
    expect({ ...applied, dryRun: true }).toEqual(dry);
    expect(await versionsOf()).toEqual([1, 4, 5]);
    const entries = await retentionAudit();
    expect(entries).toHaveLength(1);
    expect(entries[0]).toMatchObject({
      actor: { userId: 'local', kind: 'personal' },
      target: 'local',
      details: { versionsDeleted: applied.versionsDeleted, bytes: applied.bytes, expired: 0 },
    });
    // Applying again finds nothing more.
    expect(await json<RetentionReport>(['retention', 'apply', '--json'])).toMatchObject({ versionsDeleted: 0 });
  });

  it('the deleted versions free their blobs through two gc runs; the kept ones stay', async () => {
    for (const n of [1, 2, 3, 4, 5]) expect(blobFileOf(n), `w@${n}`).toBeDefined();
    const first = JSON.parse((await cliOk(sb, ['gc', '--json', '--grace', '1s'])).stdout) as {
      startedAt: string;
      condemned: { blobs: number; bytes: number };
    };
    expect(first.condemned.bytes).toBeGreaterThanOrEqual(2 * 300_000);
    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(first.startedAt) + 1100 - Date.now())));
    await cliOk(sb, ['gc', '--json', '--grace', '1s']);
    expect([1, 2, 3, 4, 5].map((n) => blobFileOf(n) !== undefined)).toEqual([true, false, false, true, true]);
    const out = join(sb.tmp(), 'best');
    await cliOk(sb, ['pull', 'exp/w@best', '-o', out]);
    expect(existsSync(join(out, 'weights.bin'))).toBe(true);
  });
});

describe('retention on `studio-lite serve`', () => {
  let url: string;
  let stop: () => Promise<unknown>;

  afterAll(async () => {
    await stop?.();
  });

  it('serve applies the saved policy at its start, audited as the schedule', async () => {
    for (let i = 0; i < 3; i++) await newVersion(); // w@6..8: @4..6 are now beyond the last 2
    expect(await versionsOf()).toEqual([1, 4, 5, 6, 7, 8]);
    const port = await freePort();
    const child = startCli(sb, ['serve', '--port', String(port)]);
    const served = collect(child);
    stop = async () => {
      child.kill('SIGTERM');
      return served;
    };
    await waitFor(() => served.stdoutSoFar().includes('listening on'), 'serve to listen');
    url = `http://127.0.0.1:${port}`;
    // Read through the server, as any client would (the embedded backend of this CLI never applies a policy).
    const client = { cwd: sb.cwd, env: { ...sb.env, STUDIOML_API_URL: url } };
    const deadline = Date.now() + 20_000;
    let seen = await versionsOf(client);
    while (seen.length > 3 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      seen = await versionsOf(client);
    }
    expect(seen).toEqual([1, 7, 8]);
    const entries = await retentionAudit(client);
    expect(entries).toHaveLength(2);
    expect(entries[0]).toMatchObject({
      actor: { userId: 'studio-lite:retention-schedule', kind: 'personal' },
      action: 'retention.apply',
      target: 'local',
      details: { versionsDeleted: 3, expired: 0 },
    });
    expect((entries[0]?.details.bytes as number) >= 3 * 300_000).toBe(true);
    // `audit` prints the schedule by name.
    const text = await cliOk(client, ['audit', '--action', 'retention.apply']);
    expect(text.stdout).toContain('studio-lite:retention-schedule');
  });

  it('a viewer may look and dry-run, but not set, clear or apply', async () => {
    const user = await json<{ secret: string }>([
      'user',
      'add',
      'vic',
      '--team',
      'local',
      '--role',
      'viewer',
      '--json',
    ]);
    const viewer = { cwd: sb.cwd, env: { ...sb.env, STUDIOML_API_URL: url, STUDIOML_TOKEN: user.secret } };
    const before = await json<{ policies: RetentionPolicy[] }>(['retention', 'show', '--json'], viewer);
    expect(before.policies).toHaveLength(1);
    for (const args of [
      ['retention', 'set', '--keep-last', '1'],
      ['retention', 'clear'],
      ['retention', 'apply'],
    ]) {
      const r = await cli(viewer, args);
      expect(r.code, args.join(' ')).not.toBe(0);
      expect(errorLine(r.stderr).code, args.join(' ')).toBe('E_FORBIDDEN');
    }
    // A dry run, also of rules not saved: allowed, and nothing changes.
    const dry = await json<{ report: RetentionReport }>(
      ['retention', 'set', '--keep-last', '1', '--dry-run', '--json'],
      viewer,
    );
    expect(dry.report.deletions).toContainEqual({
      experiment: 'exp',
      tag: 'w',
      versions: [7],
    });
    expect(await json<RetentionReport>(['retention', 'apply', '--dry-run', '--json'], viewer)).toMatchObject({
      versionsDeleted: 0,
    });
    expect(await json<{ policies: RetentionPolicy[] }>(['retention', 'show', '--json'], viewer)).toEqual(before);
    expect(await versionsOf(viewer)).toEqual([1, 7, 8]);
  });
});
