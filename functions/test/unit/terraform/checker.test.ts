/**
 * The checks the other terraform tests rely on, shown to fail on small bad inputs: a checker that cannot fail would
 * prove nothing about terraform/.
 */
import { describe, expect, it } from 'vitest';
import {
  authoritativePolicies,
  grants,
  parseSources,
  projectRoleFindings,
  publicAccessFindings,
  undeclaredReferences,
  unusedVariables,
} from './tf.ts';

const GOOD = `
variable "project_id" {
  type = string
}
variable "days" {
  type    = number
  default = null
}
locals {
  names = { for k, v in var.labels_in : k => upper(v) if v != "" }
}
variable "labels_in" {
  type    = map(string)
  default = {}
}
resource "google_storage_bucket" "b" {
  project                     = var.project_id
  name                        = "\${var.project_id}-b"
  location                    = "US"
  labels                      = local.names
  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  dynamic "lifecycle_rule" {
    for_each = var.days == null ? [] : [var.days]
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }
  lifecycle {
    ignore_changes = [labels]
  }
}
data "google_project" "p" {
  project_id = var.project_id
}
output "n" {
  value = "\${google_storage_bucket.b.name}-\${data.google_project.p.number}"
}
`;

describe('terraform checker', () => {
  it('accepts a module whose references are all declared (for-expression locals, dynamic iterators, ignore_changes)', async () => {
    const mod = await parseSources({ 'main.tf': GOOD });
    expect(await undeclaredReferences(mod)).toEqual([]);
    expect(await unusedVariables(mod)).toEqual([]);
    expect(publicAccessFindings(mod)).toEqual([]);
  });

  it('reports a syntax error with file and line', async () => {
    await expect(
      parseSources({ 'broken.tf': 'resource "google_storage_bucket" "b" {\n  name = \n}\n' }),
    ).rejects.toThrow(/broken\.tf:2/);
  });

  it('reports undeclared variables, locals, resources, data sources, modules and unknown names', async () => {
    const mod = await parseSources({
      'main.tf': `${GOOD}
resource "google_storage_bucket_object" "o" {
  bucket  = google_storage_bucket.missing.name
  name    = "\${var.nope}/\${local.nada}"
  source  = data.archive_file.gone.output_path
  content = module.ghost.value
  metadata = { x = vars.typo }
}
`,
    });
    const problems = await undeclaredReferences(mod);
    for (const missing of [
      'no resource "google_storage_bucket.missing"',
      'no variable "nope"',
      'no local "nada"',
      'no data source "archive_file.gone"',
      'no module "ghost"',
      'unknown name "vars"',
    ]) {
      expect(
        problems.some((p) => p.includes(missing)),
        `${missing} in ${problems.join('\n')}`,
      ).toBe(true);
    }
  });

  it('reports a variable that nothing uses', async () => {
    const mod = await parseSources({ 'main.tf': `${GOOD}\nvariable "forgotten" {\n  type = string\n}\n` });
    expect(await unusedVariables(mod)).toEqual(['forgotten']);
  });

  it('detects a public bucket: allUsers/allAuthenticatedUsers grants, no enforced prevention, no uniform access, ACLs', async () => {
    const mod = await parseSources({
      'main.tf': `
resource "google_storage_bucket" "open" {
  name     = "open"
  location = "US"
}
resource "google_storage_bucket_iam_member" "world" {
  bucket = google_storage_bucket.open.name
  role   = "roles/storage.objectViewer"
  member = "allUsers"
}
resource "google_storage_bucket_iam_binding" "signed_in" {
  bucket  = google_storage_bucket.open.name
  role    = "roles/storage.objectViewer"
  members = ["allAuthenticatedUsers"]
}
resource "google_storage_bucket_acl" "acl" {
  bucket         = google_storage_bucket.open.name
  predefined_acl = "publicRead"
}
`,
    });
    const findings = publicAccessFindings(mod).join('\n');
    expect(findings).toMatch(/storage_bucket_iam_member\.world: grants roles\/storage\.objectViewer to allUsers/);
    expect(findings).toMatch(/signed_in: grants .* to allAuthenticatedUsers/);
    expect(findings).toMatch(/open: uniform_bucket_level_access is not true/);
    expect(findings).toMatch(/open: public_access_prevention is not "enforced"/);
    expect(findings).toMatch(/google_storage_bucket_acl\.acl: ACLs are not allowed/);
  });

  it('allows allUsers only as run.invoker on the function service', async () => {
    const mod = await parseSources({
      'main.tf': `
resource "google_cloudfunctions2_function" "api" {
  name = "api"
}
resource "google_cloud_run_v2_service_iam_member" "public" {
  name   = google_cloudfunctions2_function.api.name
  role   = "roles/run.invoker"
  member = "allUsers"
}
resource "google_cloud_run_v2_service_iam_member" "too_much" {
  name   = google_cloudfunctions2_function.api.name
  role   = "roles/run.developer"
  member = "allUsers"
}
`,
    });
    const findings = publicAccessFindings(mod);
    expect(findings.some((f) => f.startsWith('google_cloud_run_v2_service_iam_member.public'))).toBe(false);
    expect(findings.some((f) => f.includes('too_much: grants roles/run.developer to allUsers'))).toBe(true);
  });

  it('detects broad project roles, also through a for_each set of roles, and authoritative policies', async () => {
    const mod = await parseSources({
      'main.tf': `
resource "google_service_account" "fn" {
  account_id = "fn-account"
}
locals {
  fn_roles = ["roles/datastore.user", "roles/editor"]
}
resource "google_project_iam_member" "fn" {
  for_each = toset(local.fn_roles)
  project  = "p"
  role     = each.value
  member   = google_service_account.fn.member
}
resource "google_project_iam_member" "fn_storage" {
  project = "p"
  role    = "roles/storage.objectAdmin"
  member  = "serviceAccount:\${google_service_account.fn.email}"
}
resource "google_project_iam_member" "fn_sign" {
  project = "p"
  role    = "roles/iam.serviceAccountTokenCreator"
  member  = google_service_account.fn.member
}
resource "google_project_iam_policy" "all" {
  project     = "p"
  policy_data = "{}"
}
`,
    });
    expect(grants(mod).map((g) => g.role)).toEqual(
      expect.arrayContaining(['roles/datastore.user', 'roles/editor', 'roles/storage.objectAdmin']),
    );
    const findings = projectRoleFindings(mod, 'fn').join('\n');
    expect(findings).toMatch(/roles\/editor project-wide/);
    expect(findings).toMatch(/roles\/storage\.objectAdmin project-wide .* \(grant it on the bucket\)/);
    expect(findings).toMatch(/roles\/iam\.serviceAccountTokenCreator project-wide/);
    expect(findings).not.toMatch(/datastore\.user/);
    expect(authoritativePolicies(mod)).toEqual(['google_project_iam_policy.all']);
  });
});
