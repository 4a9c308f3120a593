# The API: one gen2 Cloud Function (entry point `api`) built from the esbuild bundle in var.function_source_dir.
# `npm run deploy:bundle` writes exactly that folder (index.js + package.json); terraform zips it, uploads the zip
# under its content hash (a new bundle = a new object = a new deployment) and points the function at it.

data "archive_file" "function" {
  type             = "zip"
  source_dir       = var.function_source_dir
  output_path      = "${path.root}/.terraform/studio-lite/function-${var.name_prefix}.zip"
  output_file_mode = "0644"
}

resource "google_storage_bucket_object" "function_source" {
  name         = "${var.function_name}/${data.archive_file.function.output_sha256}.zip"
  bucket       = google_storage_bucket.source.name
  source       = data.archive_file.function.output_path
  content_type = "application/zip"
}

resource "google_cloudfunctions2_function" "api" {
  project     = var.project_id
  location    = var.region
  name        = var.function_name
  description = "studio-lite API (artifact management for ML experiments)"
  labels      = local.labels

  build_config {
    runtime         = var.function_runtime
    entry_point     = "api"
    service_account = google_service_account.build.id

    source {
      storage_source {
        bucket = google_storage_bucket.source.name
        object = google_storage_bucket_object.function_source.name
      }
    }
  }

  service_config {
    service_account_email            = google_service_account.function.email
    ingress_settings                 = "ALLOW_ALL"
    all_traffic_on_latest_revision   = true
    available_memory                 = var.function_memory
    available_cpu                    = var.function_cpu
    max_instance_request_concurrency = var.function_concurrency
    timeout_seconds                  = var.function_timeout_seconds
    min_instance_count               = var.function_min_instances
    max_instance_count               = var.function_max_instances

    # Exactly the variables of functions/src/config/gcp-config.ts (docs/configuration.md); a unit test compares them.
    environment_variables = {
      NODE_ENV                     = "production" # Express (inside functions-framework) hides stacks from error pages
      GOOGLE_CLOUD_PROJECT         = var.project_id # not set by gen2 runtimes
      STUDIO_BUCKET                = google_storage_bucket.artifacts.name
      STUDIO_FIRESTORE_DATABASE    = local.firestore_database
      STUDIO_REGION                = var.region
      STUDIO_TASKS_QUEUE           = google_cloud_tasks_queue.tasks.name
      STUDIO_TASKS_SERVICE_ACCOUNT = google_service_account.tasks_invoker.email
      STUDIO_PUBLIC_URL            = local.public_url
      STUDIO_URL_TTL_SECONDS       = tostring(var.url_ttl_seconds)
      STUDIO_RUN_LEASE_SECONDS     = tostring(var.run_lease_seconds)
      STUDIO_MAX_BLOB_BYTES        = tostring(var.max_blob_bytes)
      STUDIO_JOB_LEASE_SECONDS     = tostring(var.job_lease_seconds)
      STUDIO_JOB_MAX_ATTEMPTS      = tostring(var.job_max_attempts)
      # Google sign-in for the CLI ("" = not configured: personal access tokens only). A Desktop-app client secret is
      # not confidential (Google's own documentation); the API serves it to the CLI at /v1/auth/config.
      STUDIO_FIREBASE_API_KEY           = var.create_api_key ? google_apikeys_key.auth[0].key_string : ""
      STUDIO_GOOGLE_OAUTH_CLIENT_ID     = var.google_oauth_client_id == null ? "" : var.google_oauth_client_id
      STUDIO_GOOGLE_OAUTH_CLIENT_SECRET = var.google_oauth_client_secret == null ? "" : var.google_oauth_client_secret
    }

    dynamic "secret_environment_variables" {
      for_each = var.signing_key_secret_id == null ? [] : [var.signing_key_secret_id]
      content {
        key        = "STUDIO_SIGNING_KEY_JSON"
        project_id = var.project_id
        secret     = secret_environment_variables.value
        version    = "latest"
      }
    }
  }

  depends_on = [
    google_project_service.apis,
    google_project_iam_member.build,
    google_project_iam_member.function_firestore,
    google_storage_bucket_iam_member.function_objects,
    google_service_account_iam_member.function_signs_as_itself,
    google_secret_manager_secret_iam_member.function_signing_key,
  ]
}
