/**
 * The function's environment: the zod schema in functions/src/config/gcp-config.ts is the source of truth. Terraform
 * must set every variable of it (except the few only tests set), nothing the function does not read, and
 * docs/configuration.md must list the same set. The values must point at the resources the IAM grants are on.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { GCP_CONFIG_KEYS } from '../../../src/config/gcp-config.ts';
import {
  bodies,
  body,
  grants,
  isObj,
  loadModule,
  MODULE_DIR,
  type Obj,
  REPO,
  resourcesIn,
  serviceAccountOf,
  soleExpression,
  type TfModule,
  tableNames,
} from './tf.ts';

/** Schema keys deliberately not set by terraform, each with the reason. Keep it short. */
const TEST_ONLY: Record<string, string> = {
  STUDIO_SIGNED_URL_BASE: 'points signed URLs at the verifying test gateway; production uses storage.googleapis.com',
  STUDIO_OIDC_JWKS_URL: "tests serve their own OIDC keys; production fetches Google's",
  STUDIO_TASKS_API_ENDPOINT: "tests point the function at the fake Cloud Tasks; production uses Google's API",
  STUDIO_FIREBASE_JWKS_URL: "tests serve their own Firebase token keys; production fetches Google's securetoken JWKS",
  STUDIO_OAUTH_AUTHORIZE_URL: "tests point the CLI at a fake Google OAuth server; production uses Google's endpoint",
  STUDIO_OAUTH_TOKEN_URL: "tests point the CLI at a fake Google OAuth server; production uses Google's endpoint",
  STUDIO_GC_MIN_GRACE_SECONDS: 'lets blob GC tests use a grace of seconds; production keeps the one-hour floor',
  FIREBASE_AUTH_EMULATOR_HOST: 'accepts unsigned emulator tokens; refused with NODE_ENV=production',
};

/** Variables terraform sets that the schema does not read, each with the reason. */
const PLATFORM: Record<string, string> = {
  NODE_ENV: 'production: Express inside functions-framework keeps stack traces out of error pages',
};

let mod: TfModule;
let fn: Obj;
let env: Obj;
let secretKeys: string[];

beforeAll(async () => {
  mod = await loadModule(MODULE_DIR);
  const functions = [...mod.resources].filter(([k]) => k.startsWith('google_cloudfunctions2_function.'));
  expect(functions).toHaveLength(1);
  fn = (functions[0] as [string, { body: Obj }])[1].body;
  const svc = body(fn.service_config);
  if (!isObj(svc.environment_variables)) {
    throw new Error('service_config.environment_variables must be a literal map so its keys can be checked');
  }
  env = svc.environment_variables;
  const dynamicSecrets = isObj(svc.dynamic) ? bodies(svc.dynamic.secret_environment_variables) : [];
  secretKeys = [
    ...bodies(svc.secret_environment_variables).map((s) => s.key),
    ...dynamicSecrets.flatMap((d) => bodies(d.content).map((c) => c.key)),
  ].map(String);
});

const setByTerraform = () => [...Object.keys(env), ...secretKeys];

describe('function environment (gcp-config.ts <-> terraform <-> docs/configuration.md)', () => {
  it('the schema exposes its keys', () => {
    expect(GCP_CONFIG_KEYS).toEqual(expect.arrayContaining(['GOOGLE_CLOUD_PROJECT', 'STUDIO_BUCKET']));
  });

  it('terraform sets every variable of the schema except the documented test-only ones', () => {
    const missing = GCP_CONFIG_KEYS.filter((k) => !(k in TEST_ONLY) && !setByTerraform().includes(k));
    expect(
      missing,
      'schema keys terraform does not set (wire them in function.tf or explain them in TEST_ONLY)',
    ).toEqual([]);
  });

  it('terraform sets nothing the schema does not read (except NODE_ENV)', () => {
    const unknown = setByTerraform().filter((k) => !(GCP_CONFIG_KEYS as string[]).includes(k) && !(k in PLATFORM));
    expect(unknown).toEqual([]);
    for (const k of Object.keys(PLATFORM)) expect(setByTerraform(), k).toContain(k);
    expect(env.NODE_ENV).toBe('production');
  });

  it('the test-only allow-list is current: each entry is in the schema and not set by terraform', () => {
    for (const k of Object.keys(TEST_ONLY)) {
      expect(GCP_CONFIG_KEYS as string[], k).toContain(k);
      expect(setByTerraform(), k).not.toContain(k);
    }
  });

  it('no variable is set twice (plain and from a secret)', () => {
    expect(new Set(setByTerraform()).size).toBe(setByTerraform().length);
  });

  it("docs/configuration.md's Cloud Function table lists exactly the schema's variables", () => {
    const doc = readFileSync(join(REPO, 'docs/configuration.md'), 'utf8');
    expect(tableNames(doc, 'Cloud Function').sort()).toEqual([...GCP_CONFIG_KEYS].sort());
  });
});

describe('function environment points at the resources the grants are on', () => {
  const fnAccount = () => serviceAccountOf(String(body(fn.service_config).service_account_email));
  const the = (type: string, v: unknown) => {
    const found = resourcesIn(v as Obj).filter((r) => r.startsWith(`${type}.`));
    expect(found, `${type} in ${String(v)}`).toHaveLength(1);
    return found[0] as string;
  };

  it('runs as a dedicated service account', () => {
    expect(fnAccount()).toBeTruthy();
  });

  it('GOOGLE_CLOUD_PROJECT is the deployment project (gen2 runtimes do not set it)', () => {
    expect(soleExpression(env.GOOGLE_CLOUD_PROJECT)).toBe('var.project_id');
  });

  it('STUDIO_BUCKET is a bucket the function holds objectAdmin on, granted on that bucket', () => {
    const bucket = the('google_storage_bucket', env.STUDIO_BUCKET);
    const ok = grants(mod).some(
      (g) =>
        g.type === 'google_storage_bucket_iam_member' &&
        g.role === 'roles/storage.objectAdmin' &&
        serviceAccountOf(g.member) === fnAccount() &&
        resourcesIn(g.body.bucket).includes(bucket),
    );
    expect(ok).toBe(true);
  });

  it('STUDIO_TASKS_QUEUE is a queue the function may enqueue on, in STUDIO_REGION', () => {
    const queue = the('google_cloud_tasks_queue', env.STUDIO_TASKS_QUEUE);
    const ok = grants(mod).some(
      (g) =>
        g.role === 'roles/cloudtasks.enqueuer' &&
        serviceAccountOf(g.member) === fnAccount() &&
        (g.type === 'google_project_iam_member' || resourcesIn(g.body.name).includes(queue)),
    );
    expect(ok).toBe(true);
    const location = mod.resources.get(queue)?.body.location;
    expect(soleExpression(location)).toBe(soleExpression(env.STUDIO_REGION));
    expect(soleExpression(body(mod.resources.get(queue)?.body.retry_config).max_attempts)).toBeTruthy();
  });

  it('STUDIO_TASKS_SERVICE_ACCOUNT is an account the function can act as and that may invoke the function', () => {
    const invoker = serviceAccountOf(String(env.STUDIO_TASKS_SERVICE_ACCOUNT));
    expect(invoker).toBeTruthy();
    expect(invoker).not.toBe(fnAccount());
    const g = grants(mod);
    expect(
      g.some(
        (x) =>
          x.type === 'google_service_account_iam_member' &&
          x.role === 'roles/iam.serviceAccountUser' &&
          resourcesIn(x.body.service_account_id).includes(`google_service_account.${invoker}`) &&
          serviceAccountOf(x.member) === fnAccount(),
      ),
    ).toBe(true);
    expect(
      g.some(
        (x) =>
          /^google_cloud_run(_v2)?_service_iam_member$/.test(x.type) &&
          x.role === 'roles/run.invoker' &&
          serviceAccountOf(x.member) === invoker &&
          resourcesIn(x.body.name ?? x.body.service).some((r) => r.startsWith('google_cloudfunctions2_function.')),
      ),
    ).toBe(true);
  });

  it('STUDIO_PUBLIC_URL does not depend on the function itself (no cycle)', () => {
    const deps = new Set<string>();
    const visit = (v: unknown, seen: Set<string>) => {
      const text = JSON.stringify(v ?? null);
      for (const r of resourcesIn(v as Obj)) deps.add(r);
      for (const m of text.matchAll(/\blocal\.([A-Za-z0-9_-]+)/g)) {
        const name = m[1] as string;
        if (!seen.has(name)) visit(mod.locals.get(name)?.value, new Set([...seen, name]));
      }
    };
    visit(env.STUDIO_PUBLIC_URL, new Set());
    expect([...deps].filter((d) => d.startsWith('google_cloudfunctions2_function.'))).toEqual([]);
    expect(JSON.stringify(mod.locals.get('public_url')?.value)).toMatch(/run\.app/);
  });

  it('the function is built from the uploaded bundle with entry point api on Node 20/22, public ingress', () => {
    const build = body(fn.build_config);
    expect(build.entry_point).toBe('api');
    expect(soleExpression(build.runtime)).toBe('var.function_runtime');
    expect(mod.variables.get('function_runtime')?.body.default).toMatch(/^nodejs(20|22)$/);
    const storage = body(body(build.source).storage_source);
    expect(resourcesIn(storage.object)).toEqual(['google_storage_bucket_object.function_source']);
    expect(body(fn.service_config).ingress_settings).toBe('ALLOW_ALL');
  });
});
