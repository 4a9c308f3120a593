/**
 * Least privilege and no public data: the function's identity has no project-wide owner/editor/admin role, every
 * grant it needs is resource-level where one exists, nothing is public except the API's Cloud Run invoker role (the
 * API authenticates its own bearer tokens), buckets are uniform and public-access-prevented, and the artifact
 * bucket has the lifecycle rules for abandoned uploads and retention. Firestore gets the indexes the code declares.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  authoritativePolicies,
  bodies,
  body,
  grants,
  isObj,
  type Json,
  loadModule,
  MODULE_DIR,
  type Obj,
  projectRoleFindings,
  publicAccessFindings,
  REPO,
  resourcesIn,
  serviceAccountOf,
  soleExpression,
  type TfModule,
} from './tf.ts';

let mod: TfModule;
let fnAccount: string;
let invoker: string;
let artifactBucket: string;

beforeAll(async () => {
  mod = await loadModule(MODULE_DIR);
  const fn = [...mod.resources].find(([k]) => k.startsWith('google_cloudfunctions2_function.'))?.[1].body ?? {};
  const svc = body(fn.service_config);
  fnAccount = serviceAccountOf(String(svc.service_account_email)) ?? '';
  const env = isObj(svc.environment_variables) ? svc.environment_variables : {};
  invoker = serviceAccountOf(String(env.STUDIO_TASKS_SERVICE_ACCOUNT)) ?? '';
  artifactBucket = resourcesIn(env.STUDIO_BUCKET).find((r) => r.startsWith('google_storage_bucket.')) ?? '';
  expect(fnAccount && invoker && artifactBucket).toBeTruthy();
});

const grantsTo = (account: string) => grants(mod).filter((g) => serviceAccountOf(g.member) === account);

describe('IAM', () => {
  it('no service account holds a project-wide owner, editor, admin, IAM or resource-manager role', () => {
    expect(projectRoleFindings(mod)).toEqual([]);
  });

  it('the function account has no project-wide storage role (bucket access is granted on the bucket)', () => {
    expect(projectRoleFindings(mod, fnAccount)).toEqual([]);
  });

  it('no authoritative IAM policy replaces grants made outside this module', () => {
    expect(authoritativePolicies(mod)).toEqual([]);
  });

  it('the function account holds exactly one project-level role: datastore.user (Firestore has no per-database grant)', () => {
    const projectRoles = grantsTo(fnAccount)
      .filter((g) => g.type.startsWith('google_project_iam_'))
      .map((g) => g.role);
    expect(projectRoles).toEqual(['roles/datastore.user']);
  });

  it('the function may sign URLs as itself (signBlob): tokenCreator on its own account, not on the project', () => {
    const self = grantsTo(fnAccount).filter(
      (g) =>
        g.type === 'google_service_account_iam_member' &&
        g.role === 'roles/iam.serviceAccountTokenCreator' &&
        resourcesIn(g.body.service_account_id).includes(`google_service_account.${fnAccount}`),
    );
    expect(self).toHaveLength(1);
    const elsewhere = grants(mod).filter(
      (g) => g.role === 'roles/iam.serviceAccountTokenCreator' && !self.some((x) => x.resource === g.resource),
    );
    expect(elsewhere).toEqual([]);
  });

  it('the function may enqueue tasks and act as the task invoker; the invoker may only call the function', () => {
    expect(grantsTo(fnAccount).some((g) => g.role === 'roles/cloudtasks.enqueuer')).toBe(true);
    expect(
      grantsTo(fnAccount).some(
        (g) =>
          g.role === 'roles/iam.serviceAccountUser' &&
          resourcesIn(g.body.service_account_id).includes(`google_service_account.${invoker}`),
      ),
    ).toBe(true);
    const invokerGrants = grantsTo(invoker);
    expect(invokerGrants.map((g) => [g.type, g.role])).toEqual([
      ['google_cloud_run_v2_service_iam_member', 'roles/run.invoker'],
    ]);
  });

  it('the function reaches the artifact bucket through a bucket-level objectAdmin grant only', () => {
    const storage = grantsTo(fnAccount).filter((g) => g.role.startsWith('roles/storage.'));
    expect(storage.map((g) => [g.type, g.role, resourcesIn(g.body.bucket)])).toEqual([
      ['google_storage_bucket_iam_member', 'roles/storage.objectAdmin', [artifactBucket]],
    ]);
  });

  it('the only allUsers grant is run.invoker on the function service; nothing else is public', () => {
    expect(publicAccessFindings(mod)).toEqual([]);
    const publicGrants = grants(mod).filter((g) => /allUsers|allAuthenticatedUsers/.test(g.member));
    expect(publicGrants.map((g) => [g.type, g.role])).toEqual([
      ['google_cloud_run_v2_service_iam_member', 'roles/run.invoker'],
    ]);
  });
});

describe('buckets', () => {
  const buckets = () => [...mod.resources].filter(([k]) => k.startsWith('google_storage_bucket.'));

  it('every bucket has uniform bucket-level access and enforced public access prevention', () => {
    expect(buckets().length).toBeGreaterThan(0);
    for (const [k, { body: b }] of buckets()) {
      expect(b.uniform_bucket_level_access, k).toBe(true);
      expect(b.public_access_prevention, k).toBe('enforced');
    }
  });

  it('the artifact bucket keeps no object versions (blobs are content-addressed and create-only)', () => {
    const b = mod.resources.get(artifactBucket)?.body ?? {};
    expect(body(b.versioning).enabled).toBe(false);
  });

  /** Lifecycle rules, static and dynamic, as {action, condition, dynamic}. */
  const rules = (b: Obj) => [
    ...bodies(b.lifecycle_rule).map((r) => ({ r, dynamic: undefined as Json | undefined })),
    ...(isObj(b.dynamic) ? bodies(b.dynamic.lifecycle_rule) : []).flatMap((d) =>
      bodies(d.content).map((r) => ({ r, dynamic: d.for_each })),
    ),
  ];

  it('aborts abandoned multipart uploads after a day by default', () => {
    const b = mod.resources.get(artifactBucket)?.body ?? {};
    const abort = rules(b).filter(({ r }) => body(r.action).type === 'AbortIncompleteMultipartUpload');
    expect(abort).toHaveLength(1);
    const age = soleExpression(body(abort[0]?.r.condition).age);
    expect(age).toMatch(/^var\./);
    expect(mod.variables.get(age?.slice(4) ?? '')?.body.default).toBe(1);
  });

  it('has an optional retention rule that is off by default', () => {
    const b = mod.resources.get(artifactBucket)?.body ?? {};
    const del = rules(b).filter(({ r }) => body(r.action).type === 'Delete');
    expect(del).toHaveLength(1);
    expect(String(del[0]?.dynamic)).toMatch(/var\.retention_days == null \? \[\]/);
    expect(mod.variables.get('retention_days')?.body.default).toBeNull();
  });
});

describe('Firestore', () => {
  interface IndexSpec {
    collectionGroup: string;
    queryScope: string;
    fields: { fieldPath: string; order?: string; arrayConfig?: string }[];
  }
  const norm = (ix: IndexSpec) =>
    JSON.stringify({
      collectionGroup: ix.collectionGroup,
      queryScope: ix.queryScope ?? 'COLLECTION',
      fields: ix.fields.map((f) => ({ fieldPath: f.fieldPath, order: f.order, arrayConfig: f.arrayConfig })),
    });

  /** The indexes terraform creates: static google_firestore_index blocks, or for_each over a local list. */
  function terraformIndexes(): IndexSpec[] {
    const out: IndexSpec[] = [];
    const fromTf = (x: Obj, fields: Obj[]): IndexSpec => ({
      collectionGroup: String(x.collection),
      queryScope: String(x.query_scope ?? 'COLLECTION'),
      fields: fields.map((f) => ({
        fieldPath: String(f.field_path),
        ...(f.order ? { order: String(f.order) } : {}),
        ...(f.array_config ? { arrayConfig: String(f.array_config) } : {}),
      })),
    });
    for (const [k, { body: b }] of mod.resources) {
      if (!k.startsWith('google_firestore_index.')) continue;
      if (b.for_each === undefined) {
        out.push(fromTf(b, bodies(b.fields)));
        continue;
      }
      const local = /local\.([A-Za-z0-9_]+)/.exec(JSON.stringify(b.for_each))?.[1];
      const list = mod.locals.get(local ?? '')?.value;
      expect(Array.isArray(list), `${k}: for_each over a local list`).toBe(true);
      expect(soleExpression(b.collection)).toBe('each.value.collection');
      for (const ix of (list as Json[]).filter(isObj)) out.push(fromTf(ix, bodies(ix.fields)));
    }
    return out;
  }

  it('terraform creates exactly the composite indexes of firestore.indexes.json', () => {
    const json = JSON.parse(readFileSync(join(REPO, 'firestore.indexes.json'), 'utf8')) as {
      indexes: IndexSpec[];
      fieldOverrides?: unknown[];
    };
    expect(terraformIndexes().map(norm).sort()).toEqual(json.indexes.map(norm).sort());
    if ((json.fieldOverrides ?? []).length > 0) {
      expect([...mod.resources.keys()].some((k) => k.startsWith('google_firestore_field.'))).toBe(true);
    }
  });

  it('the database is native mode and the indexes go to the database the function uses', () => {
    const db = mod.resources.get('google_firestore_database.db')?.body ?? {};
    expect(db.type).toBe('FIRESTORE_NATIVE');
    const fn = [...mod.resources].find(([k]) => k.startsWith('google_cloudfunctions2_function.'))?.[1].body ?? {};
    const env = body(fn.service_config).environment_variables as Obj;
    for (const [k, { body: b }] of mod.resources) {
      if (k.startsWith('google_firestore_index.')) expect(b.database, k).toBe(env.STUDIO_FIRESTORE_DATABASE);
    }
  });
});
