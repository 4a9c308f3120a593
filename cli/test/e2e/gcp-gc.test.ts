// `studio-lite gc` against a team deployment on this machine: the bundled Cloud Function on the Firestore and Storage
// emulators. The function is started with the test-only STUDIO_GC_MIN_GRACE_SECONDS=0 so a grace of 1 s can be used.
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Storage } from '@google-cloud/storage';
import { describe, expect, it } from 'vitest';
import type { GcReport } from '../../../functions/src/contract/results.ts';
import { useGcpDeployment } from './gcp-harness.ts';
import { cliOk, pullJson } from './helpers.ts';

const gcp = useGcpDeployment({ gcMinGraceSeconds: 0 });
const remote = gcp.remote;

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
const keyOf = (sha: string) => `teams/${gcp.deployment().team}/blobs/sha256/${sha.slice(0, 2)}/${sha}`;

describe('studio-lite gc on the Cloud Function', () => {
  it('frees a deleted experiment’s blobs and an abandoned upload in two runs; what is shared stays', async () => {
    const dep = gcp.deployment();
    const bucket = new Storage({
      apiEndpoint: process.env.STORAGE_EMULATOR_HOST,
      projectId: 'demo-e2e',
    }).bucket(dep.bucket);
    const exists = async (sha: string) => (await bucket.file(keyOf(sha)).exists())[0];

    // An object of the team that no commit ever recorded (a capture that died after its upload).
    const orphan = randomBytes(30_000);
    await bucket.file(keyOf(sha256(orphan))).save(orphan, { resumable: false });

    const sb = remote();
    const shared = join(sb.tmp(), 'shared');
    const big = join(sb.tmp(), 'big');
    mkdirSync(shared);
    mkdirSync(big);
    const sharedData = randomBytes(50_000);
    const bigData = randomBytes(400_000);
    writeFileSync(join(shared, 's.bin'), sharedData);
    writeFileSync(join(big, 'b.bin'), bigData);
    writeFileSync(join(sb.cwd, 'noop.py'), 'pass\n');
    await cliOk(sb, ['run', '-q', '-c', `${shared}:s`, '-e', 'g-keep', 'noop.py']);
    await cliOk(sb, ['run', '-q', '-c', `${shared}:s`, '-c', `${big}:b`, '-e', 'g-drop', 'noop.py']);
    expect(await exists(sha256(bigData))).toBe(true);
    await cliOk(sb, ['delete', 'g-drop', '--yes']);

    const first = JSON.parse((await cliOk(sb, ['gc', '--json', '--grace', '1s'])).stdout) as GcReport;
    expect(first.deleted.blobs).toBe(0);
    expect(first.unrecorded).toEqual({ blobs: 1, bytes: orphan.length });
    expect(first.condemned.bytes).toBeGreaterThanOrEqual(bigData.length + orphan.length);
    expect(await exists(sha256(bigData))).toBe(true);

    await new Promise((r) => setTimeout(r, Math.max(0, Date.parse(first.startedAt) + 1100 - Date.now())));
    const second = JSON.parse((await cliOk(sb, ['gc', '--json', '--grace', '1s'])).stdout) as GcReport;
    expect(second.deleted).toEqual(first.condemned);
    expect(await exists(sha256(bigData))).toBe(false);
    expect(await exists(sha256(orphan))).toBe(false);
    // The shared file is small: it lives in a pack, which stays with its record.
    const kept = (await dep.blobIndex.findBlobs(dep.team, [sha256(sharedData)])).get(sha256(sharedData));
    expect(kept?.pack).toBeDefined();
    const packKey = `teams/${dep.team}/packs/${kept?.pack?.id.slice(0, 2)}/${kept?.pack?.id}`;
    expect((await bucket.file(packKey).exists())[0]).toBe(true);
    expect(await dep.blobIndex.findBlobs(dep.team, [sha256(bigData), sha256(orphan)])).toEqual(new Map());

    // Another machine pulls the kept experiment through signed URLs: every byte is still there.
    const other = remote();
    const pulled = await pullJson(other, 'g-keep/s', join(other.tmp(), 'out'));
    expect(pulled.files).toBe(1);
    expect(pulled.downloadedBlobs).toBe(1);
  });
});
