# Names and values shared by the other files of the module.

data "google_project" "this" {
  project_id = var.project_id

  depends_on = [google_project_service.apis]
}

locals {
  bucket_name        = coalesce(var.bucket_name, "${var.project_id}-${var.name_prefix}-artifacts")
  source_bucket_name = "${var.project_id}-${var.name_prefix}-source"
  bucket_location    = upper(coalesce(var.bucket_location, var.region))
  tasks_queue_name   = coalesce(var.tasks_queue_name, "${var.name_prefix}-tasks")
  firestore_location = coalesce(var.firestore_location, var.region)

  # The function cannot read its own `url` attribute into its environment (a cycle), so STUDIO_PUBLIC_URL is the
  # deterministic Cloud Run URL of the function's service, known before it exists: https://SERVICE-NUMBER.REGION.run.app
  # (a gen2 function's service has the function's name). It reaches the same service as the `url` output.
  public_url = coalesce(var.public_url, "https://${var.function_name}-${data.google_project.this.number}.${var.region}.run.app")

  labels = merge({ app = "studio-lite", deployment = var.name_prefix }, var.labels)
}
