# The artifact bucket. Nothing in it is ever public: clients read and write only through V4 signed URLs that the API
# mints for one object and one method after it has checked the caller's role (docs/security.md).

resource "google_storage_bucket" "artifacts" {
  project       = var.project_id
  name          = local.bucket_name
  location      = local.bucket_location
  storage_class = "STANDARD"
  labels        = local.labels
  force_destroy = var.bucket_force_destroy

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  # Blobs are content-addressed and written create-only: a key never gets a second content, so object versions
  # would only keep deleted bytes (hash-mismatch deletions) and bill for them.
  versioning {
    enabled = false
  }

  soft_delete_policy {
    retention_duration_seconds = var.soft_delete_days * 86400
  }

  # The web UI reads text previews and the live output through signed GET URLs with fetch(), from the function's
  # origin. Any origin may read: a signed URL is already a bearer capability for one object, and only GET is allowed.
  cors {
    origin          = ["*"]
    method          = ["GET"]
    response_header = ["Content-Type", "Content-Length"]
    max_age_seconds = 3600
  }

  # Abandoned uploads: a client that dies in the middle of an XML multipart upload leaves billed parts behind.
  # (Resumable upload sessions expire on their own after a week; single PUTs leave nothing.)
  lifecycle_rule {
    condition {
      age = var.abandoned_upload_days
    }
    action {
      type = "AbortIncompleteMultipartUpload"
    }
  }

  # Optional retention: delete every object some days after it was written (off by default).
  dynamic "lifecycle_rule" {
    for_each = var.retention_days == null ? [] : [var.retention_days]
    content {
      condition {
        age = lifecycle_rule.value
      }
      action {
        type = "Delete"
      }
    }
  }

  depends_on = [google_project_service.apis]
}

# The function reads, writes, verifies and deletes objects in this bucket only: a bucket-level grant, no project role.
resource "google_storage_bucket_iam_member" "function_objects" {
  bucket = google_storage_bucket.artifacts.name
  role   = "roles/storage.objectAdmin"
  member = google_service_account.function.member
}

# The function's source archives (uploaded by terraform, read by Cloud Build). Private as well.
resource "google_storage_bucket" "source" {
  project       = var.project_id
  name          = local.source_bucket_name
  location      = upper(var.region)
  storage_class = "STANDARD"
  labels        = local.labels
  force_destroy = true

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"

  versioning {
    enabled = false
  }

  depends_on = [google_project_service.apis]
}
