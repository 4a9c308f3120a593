# Every Google API the deployment uses, enabled before anything else is created. The unit tests derive the APIs the
# code calls (its @google-cloud/* imports, *.googleapis.com hosts) and the resource types below, and check each is here.

locals {
  required_apis = [
    "serviceusage.googleapis.com",         # enabling the others
    "cloudresourcemanager.googleapis.com", # project IAM bindings, the project data source
    "iam.googleapis.com",                  # service accounts
    "iamcredentials.googleapis.com",       # signBlob: V4 signed URLs without a key file
    "storage.googleapis.com",              # artifact and source buckets
    "firestore.googleapis.com",            # metadata
    "cloudtasks.googleapis.com",           # background work
    "cloudfunctions.googleapis.com",       # the API function
    "run.googleapis.com",                  # gen2 functions run on Cloud Run
    "cloudbuild.googleapis.com",           # builds the function from the uploaded source
    "artifactregistry.googleapis.com",     # stores the built function image
    "identitytoolkit.googleapis.com",      # Identity Platform: Google sign-in
    "securetoken.googleapis.com",          # Identity Platform: ID token refresh
    "apikeys.googleapis.com",              # the CLI's restricted API key
  ]
  optional_apis = concat(
    var.signing_key_secret_id == null ? [] : ["secretmanager.googleapis.com"],
    var.retention_schedule == null ? [] : ["cloudscheduler.googleapis.com"], # the daily retention run (scheduler.tf)
  )
}

resource "google_project_service" "apis" {
  for_each = toset(concat(local.required_apis, local.optional_apis))

  project = var.project_id
  service = each.value

  # Other workloads in the project may use the same APIs: never turn them off on destroy.
  disable_on_destroy         = false
  disable_dependent_services = false
}
