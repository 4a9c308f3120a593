// The authorization matrix (functions/test/support/authz-matrix.ts) against the deployable Cloud Function: the bundle
// in functions/dist under the real functions-framework binary, on the Firestore and Storage emulators (signed URLs
// through the verifying gateway) and trusting the Auth emulator. People are Firebase ID tokens from the Auth
// emulator (viewer, editor, admin, another team's admin, a person without a team, an expired one); `revoked` and
// `readOnly` are personal tokens (Firebase has no per-token revocation or scopes); worker and job tokens come from
// the API itself (a minted worker token, real leases). Plus the GCS side of the attacks in api/attacks.test.ts.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Storage } from '@google-cloud/storage';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { createFirestoreAuditLog } from '../../src/adapters/gcp/firestore-audit-log.ts';
import { createFirestoreJobStore } from '../../src/adapters/gcp/firestore-job-store.ts';
import { createFirestoreStores } from '../../src/adapters/gcp/firestore-stores.ts';
import { blobRequest, type SignedRequest } from '../../src/contract/transfer.ts';
import type { PlannedPack } from '../../src/contract/wire.ts';
import { packKey } from '../../src/core/keys.ts';
import { metadataPorts } from '../../src/core/ports.ts';
import { mintToken } from '../../src/core/tokens.ts';
import { blobKey } from '../conformance/fixtures.ts';
import {
  type Credential,
  callApi,
  describeAuthzMatrix,
  expectErrorBody,
  type HostCred,
  type MatrixHost,
  manifestOf,
  sendSigned,
  sha256,
} from '../support/authz-matrix.ts';
import { firebaseIdToken, withClaims } from '../support/firebase-tokens.ts';
import { type FunctionProcess, mintMember, REPO_ROOT, startFunctionProcess } from './support/function-process.ts';
import { makeServiceAccount } from './support/service-account.ts';
import { type StorageGateway, startStorageGateway } from './support/storage-gateway.ts';

const firestoreHost = inject('firestoreHost');
const storageHost = inject('storageHost');
const authHost = inject('authEmulatorHost');
process.env.FIRESTORE_EMULATOR_HOST = firestoreHost;

const run = randomBytes(4).toString('hex');
const projectId = `demo-authz-${run}`;
const bucket = `bkt-authz-${run}`;
const TEAM = 'team-a';
const OTHER_TEAM = 'team-b';
const sa = makeServiceAccount();

const meta = createFirestoreStores({ projectId });
const jobs = createFirestoreJobStore({ projectId });
const audit = createFirestoreAuditLog({ projectId });
let gateway: StorageGateway;
let fn: FunctionProcess;
let host: MatrixHost;

/** A Firebase sign-in (ID token from the Auth emulator for this function's project) with these memberships. */
async function firebasePerson(name: string, teams: Record<string, 'viewer' | 'editor' | 'admin'>) {
  const s = await firebaseIdToken(authHost, `${name}-${run}@example.com`, { projectId });
  for (const [team, role] of Object.entries(teams)) await meta.accounts.setMembership(team, s.uid, role);
  return { ...s, cred: { authorization: `Bearer ${s.idToken}`, userId: s.uid } as Credential };
}

beforeAll(async () => {
  gateway = await startStorageGateway({ emulatorHost: storageHost, keys: { [sa.client_email]: sa.publicKeyPem } });
  const build = spawnSync(process.execPath, [join(REPO_ROOT, 'scripts/build.mjs'), '--only=function'], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
  });
  if (build.status !== 0) throw new Error(`function bundle: ${build.stderr}`);
  const rootToken = await mintMember(meta, { team: TEAM, userId: 'root' });
  fn = await startFunctionProcess({
    config: { projectId, bucket, signingKey: sa, signedUrlBase: gateway.url, firestoreHost, storageHost },
    token: rootToken,
    // Job tokens must outlive the whole matrix run (every job-token request checks its lease).
    env: { FIREBASE_AUTH_EMULATOR_HOST: authHost, STUDIO_JOB_LEASE_SECONDS: '3600' },
  });

  const viewer = await firebasePerson('vera', { [TEAM]: 'viewer' });
  const editor = await firebasePerson('eddie', { [TEAM]: 'editor' });
  const admin = await firebasePerson('ada', { [TEAM]: 'admin' });
  const other = await firebasePerson('mallory', { [OTHER_TEAM]: 'admin' });
  const nobody = await firebasePerson('nobody', {});
  const old = await firebasePerson('old-admin', { [TEAM]: 'admin' });
  // Each person signs in once (the first request creates their user record), as `studio-lite login` does.
  for (const p of [viewer, editor, admin, other, nobody, old]) {
    const who = await callApi(fn.url, 'GET', '/v1/whoami', p.cred);
    expect(who.status, who.text).toBe(200);
  }
  const past = Math.floor(Date.now() / 1000) - 7200;
  const expired = withClaims(old.idToken, { iat: past, auth_time: past, exp: past + 3600 });

  const revokedSecret = await mintMember(meta, { team: TEAM, userId: 'revoked-admin' });
  const revoked = await meta.tokens.getTokenByHash(sha256(revokedSecret));
  await meta.tokens.revokeToken(revoked?.id as string, new Date().toISOString());
  await meta.accounts.putUser({ id: 'rhoda', name: 'rhoda', createdAt: new Date().toISOString() });
  await meta.accounts.setMembership(TEAM, 'rhoda', 'admin');
  const ro = await mintToken(meta, {
    userId: 'rhoda',
    kind: 'personal',
    scopes: ['read'],
    expiresAt: null,
    now: new Date(),
  });

  const creds: Record<HostCred, Credential> = {
    none: { authorization: null, userId: null },
    malformed: { authorization: 'Bearer not-a-token', userId: null },
    expired: { authorization: `Bearer ${expired}`, userId: null },
    revoked: { authorization: `Bearer ${revokedSecret}`, userId: null },
    otherTeam: { ...other.cred, team: TEAM },
    viewer: viewer.cred,
    editor: editor.cred,
    admin: admin.cred,
    basic: { authorization: `Basic ${Buffer.from('root:password').toString('base64')}`, userId: null },
    unknown: { authorization: `Bearer slt_${Buffer.alloc(32, 9).toString('base64url')}`, userId: null },
    noTeam: nobody.cred,
    readOnly: { authorization: `Bearer ${ro.secret}`, userId: 'rhoda' },
  };
  host = {
    url: fn.url,
    team: TEAM,
    otherTeam: OTHER_TEAM,
    ...metadataPorts(meta),
    jobs,
    audit,
    root: { token: rootToken, userId: 'root' },
    creds,
  };
}, 120_000);

afterAll(async () => {
  await fn?.stop();
  await gateway?.close();
  await Promise.all([meta.close(), jobs.close(), audit.close()]);
});

describeAuthzMatrix('gcp', () => host, { setupTimeoutMs: 120_000 });

// ---------------------------------------------------------------------------------------------------------------
// Attacks on the GCS side (the local host's are in functions/test/api/attacks.test.ts)
// ---------------------------------------------------------------------------------------------------------------

describe('attacks on the Cloud Function (GCS)', () => {
  const admin = () => ({ authorization: `Bearer ${host.root.token}`, team: TEAM, userId: 'root' }) as Credential;
  const gcs = new Storage({ apiEndpoint: storageHost, projectId: 'demo-studio-lite' });
  const objectExists = async (key: string) => (await gcs.bucket(bucket).file(key).exists())[0];
  const api = (method: string, path: string, body?: unknown, as: Credential = admin()) =>
    callApi(host.url, method, path, as, body);
  const art = (key: string, tag: string) => `/v1/experiments/${key}/artifacts/${tag}`;
  const registration = (p: PlannedPack) => ({ id: p.id, nonce: p.nonce, members: p.members });

  it("a large blob whose bytes don't match its hash is never served to another experiment of the team", async () => {
    // GCS cannot check a sha256 at upload: experiment A stores right-sized wrong bytes under H's key (a blob over
    // 256 KiB has an object of its own). Experiment B (same team) is still told to upload H, and its commit re-hashes
    // the object: E_HASH_MISMATCH, object deleted.
    const good = Buffer.alloc(300 * 1024, `the real weights ${run}\n`);
    const bad = Buffer.alloc(good.length, 0x41);
    const [a, b] = [`poison-a-${run}`, `poison-b-${run}`];
    for (const key of [a, b]) expect((await api('POST', '/v1/experiments', { key })).status).toBe(201);
    const planA = await api('POST', `${art(a, 'out')}/uploads`, {
      blobs: [{ sha256: sha256(good), size: good.length }],
    });
    expect(planA.status, planA.text).toBe(200);
    expect(planA.body.packs).toEqual([]);
    expect((await sendSigned(planA.body.uploads[0].request as SignedRequest, bad)).status).toBe(200);
    expect(await objectExists(blobKey(TEAM, sha256(good)))).toBe(true);

    const planB = await api('POST', `${art(b, 'in')}/uploads`, {
      blobs: [{ sha256: sha256(good), size: good.length }],
    });
    expect(planB.body.present).toBe(0); // not verified: never reported present
    expect(planB.body.uploads.map((u: { sha256: string }) => u.sha256)).toEqual([sha256(good)]);
    const commitB = await api('POST', `${art(b, 'in')}/versions`, {
      mutable: true,
      manifest: manifestOf([{ path: 'w.bin', data: good }]),
    });
    expectErrorBody(commitB, 400, 'E_HASH_MISMATCH');
    expect(await objectExists(blobKey(TEAM, sha256(good)))).toBe(false);
    expect((await api('GET', `${art(b, 'in')}/versions/latest`)).status).toBe(404);
    // A correct upload takes its place and then serves the right bytes.
    expect((await sendSigned(planB.body.uploads[0].request as SignedRequest, good)).status).toBe(200);
    expect(
      (
        await api('POST', `${art(b, 'in')}/versions`, {
          mutable: true,
          manifest: manifestOf([{ path: 'w.bin', data: good }]),
        })
      ).status,
    ).toBe(201);
    const dl = await api('POST', `${art(b, 'in')}/versions/1/downloads`, { sha256s: [sha256(good)] });
    const got = await sendSigned(dl.body.blobs[0].request as SignedRequest);
    expect(Buffer.from(await got.arrayBuffer()).equals(good)).toBe(true);
  });

  it("a packed small blob whose bytes don't match its hash is refused at registration and never becomes present", async () => {
    // The pack's PUT stores right-sized wrong bytes (GCS checks only the length); registration hashes every member:
    // E_HASH_MISMATCH, pack deleted, nothing recorded. An unregistered pack never counts, for this experiment or
    // another one of the team.
    const good = Buffer.from(`small real weights ${run}\n`);
    const [a, b] = [`ppoison-a-${run}`, `ppoison-b-${run}`];
    for (const key of [a, b]) expect((await api('POST', '/v1/experiments', { key })).status).toBe(201);
    const planA = await api('POST', `${art(a, 'out')}/uploads`, {
      blobs: [{ sha256: sha256(good), size: good.length }],
    });
    const packA = planA.body.packs[0] as PlannedPack;
    expect((await sendSigned(packA.request, Buffer.alloc(good.length, 0x41))).status).toBe(200);
    const planB = await api('POST', `${art(b, 'in')}/uploads`, {
      blobs: [{ sha256: sha256(good), size: good.length }],
    });
    expect(planB.body.present).toBe(0);
    expectErrorBody(
      await api('POST', `${art(b, 'in')}/versions`, {
        mutable: true,
        manifest: manifestOf([{ path: 'w.txt', data: good }]),
      }),
      409,
      'E_BLOB_MISSING',
    );
    const reg = await api('POST', `${art(a, 'out')}/packs`, registration(packA));
    expectErrorBody(reg, 400, 'E_HASH_MISMATCH');
    expect(await objectExists(packKey(TEAM, packA.id))).toBe(false);
    // B uploads the right bytes in its own pack, registers it and commits; the download serves the right bytes.
    const packB = planB.body.packs[0] as PlannedPack;
    expect((await sendSigned(packB.request, good)).status).toBe(200);
    expect((await api('POST', `${art(b, 'in')}/packs`, registration(packB))).status).toBe(200);
    const commitB = await api('POST', `${art(b, 'in')}/versions`, {
      mutable: true,
      manifest: manifestOf([{ path: 'w.txt', data: good }]),
    });
    expect(commitB.status, commitB.text).toBe(201);
    const dl = await api('POST', `${art(b, 'in')}/versions/1/downloads`, { sha256s: [sha256(good)] });
    const r = blobRequest(dl.body, sha256(good));
    const got = await fetch(r?.url as string, { headers: r?.headers });
    expect(got.status).toBe(206);
    expect(Buffer.from(await got.arrayBuffer()).equals(good)).toBe(true);
  });

  it("another team's blob hash: reported missing, not committable, and neither its signed URL nor a registration opens team A's pack", async () => {
    const secret = Buffer.from(`team-a secret ${run}\n`);
    const key = `secret-${run}`;
    expect((await api('POST', '/v1/experiments', { key })).status).toBe(201);
    const plan = await api('POST', `${art(key, 'model')}/uploads`, {
      blobs: [{ sha256: sha256(secret), size: secret.length }],
    });
    const packA = plan.body.packs[0] as PlannedPack;
    expect((await sendSigned(packA.request, secret)).status).toBe(200);
    expect((await api('POST', `${art(key, 'model')}/packs`, registration(packA))).status).toBe(200);
    const committed = await api('POST', `${art(key, 'model')}/versions`, {
      mutable: true,
      manifest: manifestOf([{ path: 's.txt', data: secret }]),
    });
    expect(committed.status, committed.text).toBe(201);

    const mallory = await mintMember(meta, { team: OTHER_TEAM, userId: `mallory-pat-${run}` });
    const as: Credential = { authorization: `Bearer ${mallory}`, userId: null };
    const mine = `steal-${run}`;
    expect((await api('POST', '/v1/experiments', { key: mine }, as)).status).toBe(201);
    const steal = await api(
      'POST',
      `${art(mine, 'x')}/uploads`,
      { blobs: [{ sha256: sha256(secret), size: secret.length }] },
      as,
    );
    expect(steal.body.present).toBe(0);
    const req = (steal.body.packs[0] as PlannedPack).request;
    expect(new URL(req.url).pathname).toMatch(new RegExp(`^/${bucket}/teams/${OTHER_TEAM}/packs/`));
    expectErrorBody(
      await api(
        'POST',
        `${art(mine, 'x')}/versions`,
        { mutable: true, manifest: manifestOf([{ path: 's', data: secret }]) },
        as,
      ),
      409,
      'E_BLOB_MISSING',
    );
    // Registering team A's pack (id, nonce and members it may have seen) looks under its own team: nothing there.
    expectErrorBody(await api('POST', `${art(mine, 'x')}/packs`, registration(packA), as), 409, 'E_BLOB_MISSING');
    // Its signed URL re-pointed at team A's pack: the signature binds the object name (gateway: 403).
    const moved = req.url.replace(new URL(req.url).pathname, `/${bucket}/${packKey(TEAM, packA.id)}`);
    const res = await fetch(moved, { method: 'GET' });
    expect(res.status).toBe(403);
    expect(await res.text()).not.toContain('team-a secret');
  });
});
