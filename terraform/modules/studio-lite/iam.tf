# Identities and least-privilege grants. Nothing here grants a project-wide owner/editor/admin role; the function's
# identity holds one project role (Firestore data access, which has no per-database grant) and otherwise only
# resource-level grants. The unit tests in functions/test/unit/terraform enforce this.

# --- the function's identity ----------------------------------------------------------------------------------------

resource "google_service_account" "function" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-api"
  display_name = "studio-lite API function"
  description  = "Runs the studio-lite API: Firestore data, objects in the artifact bucket, Cloud Tasks, URL signing."

  depends_on = [google_project_service.apis]
}

# Firestore documents (read/write). Firestore has no database-level IAM; this is the narrowest predefined role.
resource "google_project_iam_member" "function_firestore" {
  project = var.project_id
  role    = "roles/datastore.user"
  member  = google_service_account.function.member
}

# V4 signed URLs without a key file: the function signs through IAM signBlob as itself, which needs
# iam.serviceAccounts.signBlob on its own account only (not on the project's other accounts).
resource "google_service_account_iam_member" "function_signs_as_itself" {
  service_account_id = google_service_account.function.name
  role               = "roles/iam.serviceAccountTokenCreator"
  member             = google_service_account.function.member
}

# Secret Manager: only when a signing key is configured, and only that secret.
resource "google_secret_manager_secret_iam_member" "function_signing_key" {
  count = var.signing_key_secret_id == null ? 0 : 1

  project   = var.project_id
  secret_id = var.signing_key_secret_id
  role      = "roles/secretmanager.secretAccessor"
  member    = google_service_account.function.member

  depends_on = [google_project_service.apis]
}

# Enqueue tasks on this queue only.
resource "google_cloud_tasks_queue_iam_member" "function_enqueues" {
  project  = var.project_id
  location = google_cloud_tasks_queue.tasks.location
  name     = google_cloud_tasks_queue.tasks.name
  role     = "roles/cloudtasks.enqueuer"
  member   = google_service_account.function.member
}

# --- the identity Cloud Tasks calls the function with ---------------------------------------------------------------

resource "google_service_account" "tasks_invoker" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-tasks"
  display_name = "studio-lite task invoker"
  description  = "Identity of the OIDC tokens Cloud Tasks attaches to internal task requests (STUDIO_TASKS_SERVICE_ACCOUNT)."

  depends_on = [google_project_service.apis]
}

# A task names the invoker account as its OIDC identity; creating such a task needs iam.serviceAccounts.actAs on it.
resource "google_service_account_iam_member" "function_acts_as_invoker" {
  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = google_service_account.function.member
}

# The invoker may call the function's Cloud Run service (and nothing else). Redundant while the service is public
# (below), required as soon as it is not (e.g. behind a load balancer with ingress restricted).
resource "google_cloud_run_v2_service_iam_member" "invoker_runs_function" {
  project  = var.project_id
  location = google_cloudfunctions2_function.api.location
  name     = google_cloudfunctions2_function.api.name
  role     = "roles/run.invoker"
  member   = google_service_account.tasks_invoker.member
}

# The API is public at the Cloud Run level ON PURPOSE: the CLI, workers and web page send their own bearer tokens
# (personal access tokens, Firebase ID tokens), which the API authenticates on every route; internal routes accept
# only the invoker's OIDC token for STUDIO_PUBLIC_URL. Cloud Run IAM would reject those tokens, so every caller may
# reach the container and the application decides. This is the only allUsers grant in the deployment.
resource "google_cloud_run_v2_service_iam_member" "public_invoker" {
  project  = var.project_id
  location = google_cloudfunctions2_function.api.location
  name     = google_cloudfunctions2_function.api.name
  role     = "roles/run.invoker"
  member   = "allUsers"
}

# --- the identity Cloud Build builds the function with --------------------------------------------------------------
# New projects no longer give the default compute account Editor, so deployments name their own build account with
# the minimum Cloud Functions documents: write logs, read the uploaded source, push the image.

resource "google_service_account" "build" {
  project      = var.project_id
  account_id   = "${var.name_prefix}-build"
  display_name = "studio-lite function build"
  description  = "Cloud Build identity that builds the studio-lite function image."

  depends_on = [google_project_service.apis]
}

resource "google_project_iam_member" "build" {
  for_each = toset([
    "roles/logging.logWriter",
    "roles/artifactregistry.writer",
    "roles/storage.objectViewer",
  ])

  project = var.project_id
  role    = each.value
  member  = google_service_account.build.member
}
