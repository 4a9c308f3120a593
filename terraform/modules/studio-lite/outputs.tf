output "api_url" {
  description = "URL of the studio-lite API (the function's URL as Cloud Run reports it)."
  value       = google_cloudfunctions2_function.api.url
}

output "login_command" {
  description = "What a team member runs to point the CLI at this deployment."
  value       = "studio-lite login ${google_cloudfunctions2_function.api.url}"
}

output "public_url" {
  description = "The base URL the function is configured with (STUDIO_PUBLIC_URL): target and OIDC audience of its Cloud Tasks. Same service as api_url."
  value       = local.public_url
}

output "bucket_name" {
  description = "The artifact bucket."
  value       = google_storage_bucket.artifacts.name
}

output "firestore_database" {
  description = "The Firestore database id the function uses."
  value       = local.firestore_database
}

output "tasks_queue" {
  description = "Full resource name of the Cloud Tasks queue."
  value       = google_cloud_tasks_queue.tasks.id
}

output "function_service_account" {
  description = "Email of the function's service account."
  value       = google_service_account.function.email
}

output "tasks_invoker_service_account" {
  description = "Email of the account whose OIDC tokens the internal task routes accept."
  value       = google_service_account.tasks_invoker.email
}

output "auth_api_key" {
  description = "API key for the Identity Toolkit / Secure Token REST calls of the CLI's Google sign-in (null when create_api_key = false)."
  value       = one(google_apikeys_key.auth[*].key_string)
  sensitive   = true
}

output "google_sign_in_enabled" {
  description = "Whether Google sign-in is configured (an OAuth client id was given)."
  value       = local.google_sign_in
}
