# The Cloud Tasks queue for background work (blob verification, job dispatch). Tasks are HTTP requests to the
# function's /internal/ routes carrying an OIDC token of the task-invoker service account (iam.tf).

resource "google_cloud_tasks_queue" "tasks" {
  project  = var.project_id
  name     = local.tasks_queue_name
  location = var.region

  rate_limits {
    max_dispatches_per_second = var.tasks_max_dispatches_per_second
    max_concurrent_dispatches = var.tasks_max_concurrent_dispatches
  }

  retry_config {
    # Bounded by attempts only (no max_retry_duration): 5 s, 10 s, 20 s ... up to max_backoff between deliveries.
    max_attempts  = var.tasks_max_attempts
    min_backoff   = "${var.tasks_min_backoff_seconds}s"
    max_backoff   = "${var.tasks_max_backoff_seconds}s"
    max_doublings = 8
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  lifecycle {
    precondition {
      condition     = var.tasks_min_backoff_seconds <= var.tasks_max_backoff_seconds
      error_message = "tasks_min_backoff_seconds must not exceed tasks_max_backoff_seconds."
    }
  }

  depends_on = [google_project_service.apis]
}
