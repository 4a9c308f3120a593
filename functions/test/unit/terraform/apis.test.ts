/**
 * Every Google API the deployment needs is enabled by terraform, and enabled before the resources that need it.
 * The needs are derived, not listed: from the code (its @google-cloud/* and Google auth imports, the *.googleapis.com
 * hosts it calls) and from the resource types the module declares. An import, host or resource type this test does
 * not know fails it, so that someone decides which API it needs.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { dependencies, literalsIn, loadModule, MODULE_DIR, REPO, type TfModule } from './tf.ts';

/** What each client library calls (short service names; ".googleapis.com" is appended). */
const PACKAGE_APIS: Record<string, { apis: string[]; why: string }> = {
  '@google-cloud/firestore': { apis: ['firestore'], why: 'metadata' },
  '@google-cloud/storage': { apis: ['storage', 'iamcredentials'], why: 'blobs; V4 signing through signBlob' },
  '@google-cloud/tasks': { apis: ['cloudtasks'], why: 'background work' },
  '@google-cloud/functions-framework': {
    apis: ['cloudfunctions', 'run', 'cloudbuild', 'artifactregistry'],
    why: 'a gen2 function: built by Cloud Build into Artifact Registry, served by Cloud Run',
  },
  '@google-cloud/secret-manager': { apis: ['secretmanager'], why: 'secrets read at run time' },
  'firebase-admin': { apis: ['identitytoolkit', 'securetoken', 'iamcredentials'], why: 'Firebase Auth' },
  'google-auth-library': { apis: ['iamcredentials'], why: 'tokens and signing as the runtime account' },
};

/** *.googleapis.com hosts in the code that are not APIs to enable. */
const NOT_AN_API: Record<string, string> = {
  www: "Google's public OIDC signing keys (www.googleapis.com/oauth2/v3/certs)",
  oauth2: 'the OAuth 2.0 token endpoint',
};

/** The APIs a resource or data source type needs. */
const TYPE_APIS: Record<string, string[]> = {
  google_project_service: ['serviceusage'],
  google_project_iam_member: ['cloudresourcemanager'],
  'data.google_project': ['cloudresourcemanager'],
  google_service_account: ['iam'],
  google_service_account_iam_member: ['iam'],
  google_storage_bucket: ['storage'],
  google_storage_bucket_object: ['storage'],
  google_storage_bucket_iam_member: ['storage'],
  google_firestore_database: ['firestore'],
  google_firestore_index: ['firestore'],
  google_firestore_field: ['firestore'],
  google_cloud_tasks_queue: ['cloudtasks'],
  google_cloud_tasks_queue_iam_member: ['cloudtasks'],
  google_cloud_scheduler_job: ['cloudscheduler'],
  google_cloudfunctions2_function: ['cloudfunctions', 'run', 'cloudbuild', 'artifactregistry'],
  google_cloud_run_v2_service_iam_member: ['run'],
  google_identity_platform_config: ['identitytoolkit'],
  google_identity_platform_default_supported_idp_config: ['identitytoolkit'],
  google_apikeys_key: ['apikeys'],
  google_secret_manager_secret_iam_member: ['secretmanager'],
};

const api = (short: string) => `${short}.googleapis.com`;

function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) out.push(...sourceFiles(p));
    else if (/\.(ts|mts|js|mjs)$/.test(e)) out.push(p);
  }
  return out;
}

const CODE_DIRS = ['functions/src', 'cli/src'].map((d) => join(REPO, d));

let mod: TfModule;
let enabled: Set<string>;

beforeAll(async () => {
  mod = await loadModule(MODULE_DIR);
  enabled = new Set(
    [...mod.resources]
      .filter(([k]) => k.startsWith('google_project_service.'))
      .flatMap(([, { body }]) => literalsIn(mod, body.for_each ?? body.service))
      .filter((s) => s.endsWith('.googleapis.com')),
  );
});

describe('Google APIs', () => {
  it('the code uses only client libraries whose APIs this test knows, and terraform enables them', () => {
    const imports = new Map<string, string>();
    const re =
      /(?:from\s*|import\s*\(\s*)['"](@google-cloud\/[a-z0-9-]+|firebase-admin|google-auth-library|googleapis)/g;
    for (const dir of CODE_DIRS) {
      for (const f of sourceFiles(dir)) {
        for (const m of readFileSync(f, 'utf8').matchAll(re)) imports.set(m[1] as string, relative(REPO, f));
      }
    }
    expect(imports.size, 'the code imports Google client libraries').toBeGreaterThan(0);
    for (const [pkg, file] of imports) {
      const known = PACKAGE_APIS[pkg];
      expect(known, `${file} imports ${pkg}: add the APIs it calls to PACKAGE_APIS`).toBeDefined();
      for (const short of known?.apis ?? [])
        expect([...enabled], `${pkg} (${file}) needs ${api(short)}`).toContain(api(short));
    }
  });

  it('every *.googleapis.com service the code calls directly is enabled', () => {
    for (const dir of CODE_DIRS) {
      for (const f of sourceFiles(dir)) {
        for (const m of readFileSync(f, 'utf8').matchAll(/https?:\/\/([a-z0-9-]+)\.googleapis\.com/g)) {
          const host = m[1] as string;
          if (host in NOT_AN_API) continue;
          expect([...enabled], `${relative(REPO, f)} calls ${api(host)}`).toContain(api(host));
        }
      }
    }
  });

  it('every resource type the module declares has its API enabled', () => {
    const types = new Set([
      ...[...mod.resources.keys()].map((k) => k.split('.')[0] as string),
      ...[...mod.data.keys()].map((k) => `data.${k.split('.')[0]}`),
    ]);
    for (const t of types) {
      if (/^(data\.)?(archive|random|null|time)_/.test(t)) continue; // local providers: no API
      const needs = TYPE_APIS[t];
      expect(needs, `resource type ${t}: add the APIs it needs to TYPE_APIS`).toBeDefined();
      for (const short of needs ?? []) expect([...enabled], `${t} needs ${api(short)}`).toContain(api(short));
    }
  });

  it('every resource that calls a Google API is created after the APIs are enabled', () => {
    const apiResources = [...mod.resources.keys()].filter((k) => k.startsWith('google_project_service.'));
    const keys = [
      ...[...mod.resources.keys()].filter((k) => k.startsWith('google_') && !apiResources.includes(k)),
      ...[...mod.data.keys()].filter((k) => k.startsWith('google_')).map((k) => `data.${k}`),
    ];
    const early = keys.filter((k) => ![...dependencies(mod, k)].some((d) => apiResources.includes(d)));
    expect(early, 'add depends_on = [google_project_service.apis] (or depend on a resource that has it)').toEqual([]);
  });
});
