# The daily retention run (issue 18; docs/deploy.md "Freeing storage"). Cloud Scheduler POSTs `{}` to the function's
# /internal/tasks/retention with an OIDC token of the task-invoker account for STUDIO_PUBLIC_URL: the same identity
# and audience as a Cloud Tasks task, which is all internal routes accept (adapters/gcp/internal-auth.ts). The function
# then applies the saved retention policy of every team that has one (core/retention-schedule.ts) and audits each
# team's run as `studio-lite:retention-schedule`. retention_schedule = null: no job (apply by hand with
# `studio-lite retention apply`).
#
# Creating the job needs iam.serviceAccounts.actAs on the invoker account for whoever runs terraform (Owner has it);
# Cloud Scheduler's own service agent mints the tokens with the role Google grants it (roles/cloudscheduler.serviceAgent).

resource "google_cloud_scheduler_job" "retention" {
  count = var.retention_schedule == null ? 0 : 1

  project     = var.project_id
  region      = var.region
  name        = "${var.name_prefix}-retention"
  description = "studio-lite: apply every team's retention policy (POST /internal/tasks/retention)."
  schedule    = var.retention_schedule
  time_zone   = var.retention_time_zone

  # HTTP targets allow at most 30 minutes; the function's own timeout ends the request earlier when it is shorter.
  attempt_deadline = "${min(var.function_timeout_seconds, 1800)}s"

  # A run that failed for some team answers an error after doing the others; applying again is harmless.
  retry_config {
    retry_count          = 3
    min_backoff_duration = "60s"
    max_backoff_duration = "900s"
    max_doublings        = 4
  }

  http_target {
    http_method = "POST"
    uri         = "${local.public_url}/internal/tasks/retention"
    body        = base64encode("{}")

    headers = {
      "Content-Type" = "application/json"
    }

    oidc_token {
      service_account_email = google_service_account.tasks_invoker.email
      audience              = local.public_url
    }
  }

  depends_on = [google_project_service.apis]
}
