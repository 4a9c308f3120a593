output "api_url" {
  description = "URL of the studio-lite API."
  value       = module.studio_lite.api_url
}

output "login_command" {
  description = "Run this to point the CLI at the deployment."
  value       = module.studio_lite.login_command
}

output "bucket_name" {
  description = "The artifact bucket."
  value       = module.studio_lite.bucket_name
}

output "auth_api_key" {
  description = "API key for the CLI's Google sign-in (`terraform output -raw auth_api_key`)."
  value       = module.studio_lite.auth_api_key
  sensitive   = true
}

output "google_sign_in_enabled" {
  description = "Whether Google sign-in is configured."
  value       = module.studio_lite.google_sign_in_enabled
}

output "function_service_account" {
  description = "The function's service account (the one a signing key would belong to)."
  value       = module.studio_lite.function_service_account
}
