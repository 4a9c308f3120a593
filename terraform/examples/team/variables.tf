variable "project_id" {
  description = "Google Cloud project to deploy into (billing enabled)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 characters: lowercase letters, digits, hyphens; starts with a letter)."
  }
}

variable "region" {
  description = "Region of the function, queue, bucket and Firestore database."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1."
  }
}

variable "name_prefix" {
  description = "Prefix of the named resources; change it for a second deployment in the same project."
  type        = string
  default     = "studio-lite"
}

variable "function_source_dir" {
  description = "The bundled function folder. null = functions/dist of this repository (run `npm run deploy:bundle` first)."
  type        = string
  default     = null
}

variable "bucket_name" {
  description = "Artifact bucket name (globally unique). null = \"<project_id>-<name_prefix>-artifacts\"."
  type        = string
  default     = null
}

variable "retention_days" {
  description = "Delete artifact objects this many days after they were written. null = keep forever."
  type        = number
  default     = null
}

variable "retention_schedule" {
  description = "When the daily retention run applies every team's retention policy (cron, in retention_time_zone). null = no scheduled run."
  type        = string
  default     = "17 3 * * *"
}

variable "retention_time_zone" {
  description = "Time zone of retention_schedule (tz database name)."
  type        = string
  default     = "Etc/UTC"
}

variable "google_oauth_client_id" {
  description = "OAuth client ID for Google sign-in (created in the console, see docs/deploy.md). null = not yet."
  type        = string
  default     = null
}

variable "google_oauth_client_secret" {
  description = "Secret of that OAuth client."
  type        = string
  default     = null
  sensitive   = true
}

variable "authorized_domains" {
  description = "Extra OAuth redirect domains besides localhost (e.g. a web page)."
  type        = list(string)
  default     = []
}

variable "create_firestore_database" {
  description = "false when the project already has the (default) Firestore database."
  type        = bool
  default     = true
}

variable "create_identity_platform_config" {
  description = "false when Identity Platform / Firebase Authentication is already enabled in the project."
  type        = bool
  default     = true
}

variable "signing_key_secret_id" {
  description = "Secret Manager secret holding a key of the function's service account, for fast local URL signing (docs/deploy.md). null = IAM signBlob."
  type        = string
  default     = null
}
