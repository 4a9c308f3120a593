// `studio-lite gc` on the embedded backend: delete an experiment, then two gc runs free exactly its own blobs.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { GcReport } from '../../../functions/src/contract/results.ts';
import { cli, cliOk, errorLine, pullJson, sha256, showJson, storeBlobFiles, useSandboxes } from './helpers.ts';

const sandbox = useSandboxes();

const storeBytes = (home: string) => storeBlobFiles(home).reduce((n, f) => n + statSync(f).size, 0);

describe('studio-lite gc', () => {
  it('frees a deleted experiment’s blobs after the grace and keeps what others reference', async () => {
    const sb = sandbox();
    sb.env.STUDIOML_GC_MIN_GRACE_SECONDS = '0';
    const shared = join(sb.tmp(), 'shared');
    const big = join(sb.tmp(), 'big');
    mkdirSync(shared);
    mkdirSync(big);
    const sharedData = randomBytes(100_000);
    const bigData = randomBytes(2_000_000);
    writeFileSync(join(shared, 's.bin'), sharedData);
    writeFileSync(join(big, 'b.bin'), bigData);
    writeFileSync(join(sb.cwd, 'noop.py'), 'pass\n');
    await cliOk(sb, ['run', '-q', '-c', `${shared}:s`, '-e', 'keep', 'noop.py']);
    await cliOk(sb, ['run', '-q', '-c', `${shared}:s`, '-c', `${big}:b`, '-e', 'drop', 'noop.py']);
    const bigFile = storeBlobFiles(sb.home).find((f) => f.endsWith(sha256(bigData)));
    expect(bigFile).toBeDefined();
    const before = storeBytes(sb.home);

    // Nothing is unreferenced yet: a run condemns nothing.
    const idle = JSON.parse((await cliOk(sb, ['gc', '--json', '--grace', '1s'])).stdout) as GcReport;
    expect(idle.condemned.blobs).toBe(0);

    await cliOk(sb, ['delete', 'drop', '--yes']);
    const dry = await cliOk(sb, ['gc', '--dry-run', '--grace', '1s']);
    expect(dry.stdout).toContain('dry run: nothing changed');
    expect(dry.stdout).toMatch(/would condemn: [1-9]\d* blob\(s\)/);
    expect(dry.stdout).toContain('would delete: 0 blob(s)');

    const first = JSON.parse((await cliOk(sb, ['gc', '--json', '--grace', '1s'])).stdout) as GcReport;
    // b.bin and the manifests only `drop` had; s.bin and the manifests both runs share stay referenced.
    expect(first.condemned.blobs).toBeGreaterThanOrEqual(2);
    expect(first.condemned.bytes).toBeGreaterThanOrEqual(bigData.length);
    expect(first.condemned.bytes).toBeLessThan(bigData.length + sharedData.length);
    expect(first.deleted.blobs).toBe(0);
    expect(existsSync(bigFile as string)).toBe(true);

    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(first.startedAt) + 1100 - Date.now())));
    const second = await cliOk(sb, ['gc', '--grace', '1s']);
    expect(second.stdout).toContain(`deleted: ${first.condemned.blobs} blob(s)`);
    expect(existsSync(bigFile as string)).toBe(false);
    const after = storeBytes(sb.home);
    expect(before - after).toBeGreaterThanOrEqual(bigData.length);

    // The kept experiment is whole: a pull into an empty cache gets the shared bytes.
    expect((await showJson(sb, 'keep')).experiment.status).toBe('finished');
    const out = join(sb.tmp(), 'pulled');
    const pulled = await pullJson(sb, 'keep/s', out);
    expect(pulled.files).toBe(1);

    // Its gc runs are in the audit log.
    const audit = JSON.parse((await cliOk(sb, ['audit', '--json', '--action', 'blobs.gc'])).stdout).entries;
    expect(audit).toHaveLength(3);
  });

  it('refuses a grace under the one-hour floor with a stable error', async () => {
    const sb = sandbox();
    const r = await cli(sb, ['gc', '--grace', '10m']);
    expect(r.code).toBe(2);
    expect(errorLine(r.stderr).code).toBe('E_BAD_REQUEST');
    const bad = await cli(sb, ['gc', '--grace', 'soon']);
    expect(errorLine(bad.stderr).code).toBe('E_BAD_REQUEST');
  });
});
