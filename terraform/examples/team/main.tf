# A team deployment of studio-lite in one project: `terraform init && terraform apply -var project_id=...`.
# See docs/deploy.md for the whole path from an empty project to a first captured artifact.

terraform {
  required_version = ">= 1.5.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = ">= 6.14.0, < 8.0.0"
    }
    archive = {
      source  = "hashicorp/archive"
      version = ">= 2.4.0, < 3.0.0"
    }
  }

  # Keep the state in a private, versioned bucket when several people apply (it holds the OAuth client secret):
  # backend "gcs" {
  #   bucket = "my-terraform-state"
  #   prefix = "studio-lite"
  # }
}

provider "google" {
  project = var.project_id
  region  = var.region

  # Identity Platform and API keys refuse user credentials without a quota project: bill those calls to this one.
  user_project_override = true
  billing_project       = var.project_id
}

module "studio_lite" {
  source = "../../modules/studio-lite"

  project_id  = var.project_id
  region      = var.region
  name_prefix = var.name_prefix

  # The folder `npm run deploy:bundle` writes (functions/dist of this repository, by default).
  function_source_dir = local.function_source_dir

  bucket_name           = var.bucket_name
  retention_days        = var.retention_days
  signing_key_secret_id = var.signing_key_secret_id

  retention_schedule  = var.retention_schedule
  retention_time_zone = var.retention_time_zone

  google_oauth_client_id     = var.google_oauth_client_id
  google_oauth_client_secret = var.google_oauth_client_secret
  authorized_domains         = var.authorized_domains

  create_firestore_database       = var.create_firestore_database
  create_identity_platform_config = var.create_identity_platform_config
}

locals {
  function_source_dir = coalesce(var.function_source_dir, "${path.module}/../../../functions/dist")
}
