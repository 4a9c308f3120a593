# Inputs of the studio-lite team deployment. README.md lists them; functions/test/unit/terraform checks that every
# variable has a description and a type, is used, and is listed there.

# --- project and naming ---------------------------------------------------------------------------------------------

variable "project_id" {
  description = "Google Cloud project that hosts the deployment (billing must be enabled)."
  type        = string

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{4,28}[a-z0-9]$", var.project_id))
    error_message = "project_id must be a project ID (6-30 characters: lowercase letters, digits, hyphens; starts with a letter), not a project name or number."
  }
}

variable "region" {
  description = "Region of the function, the task queue and (by default) the bucket and the Firestore database."
  type        = string
  default     = "us-central1"

  validation {
    condition     = can(regex("^[a-z]+-[a-z]+[0-9]+$", var.region))
    error_message = "region must be a Google Cloud region such as us-central1 or europe-west1 (not a zone or a multi-region)."
  }
}

variable "name_prefix" {
  description = "Prefix of every named resource (service accounts, queue, buckets, API key). Change it to run two deployments in one project."
  type        = string
  default     = "studio-lite"

  validation {
    # Service-account ids are 6-30 characters; the longest suffix added is "-build" / "-tasks" (6).
    condition     = can(regex("^[a-z][a-z0-9-]{0,18}[a-z0-9]$", var.name_prefix))
    error_message = "name_prefix must be 2-20 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "labels" {
  description = "Labels added to the bucket, the function and the other resources that take labels."
  type        = map(string)
  default     = {}
}

# --- Cloud Function -------------------------------------------------------------------------------------------------

variable "function_source_dir" {
  description = "Folder with the bundled function (index.js + package.json), as written by `npm run deploy:bundle` (functions/dist). Terraform zips and uploads it."
  type        = string

  validation {
    condition     = fileexists("${var.function_source_dir}/index.js") && fileexists("${var.function_source_dir}/package.json")
    error_message = "function_source_dir has no index.js and package.json: run `npm ci && npm run deploy:bundle` in the repository first."
  }
}

variable "function_name" {
  description = "Name of the Cloud Function (and of its Cloud Run service, which appears in its URL)."
  type        = string
  default     = "studio-lite-api"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{0,47}[a-z0-9]$", var.function_name))
    error_message = "function_name must be 2-49 characters: lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "function_runtime" {
  description = "Node.js runtime of the function (the bundle targets Node 20)."
  type        = string
  default     = "nodejs20"

  validation {
    condition     = contains(["nodejs20", "nodejs22"], var.function_runtime)
    error_message = "function_runtime must be nodejs20 or nodejs22."
  }
}

variable "function_memory" {
  description = "Memory of one function instance (Cloud Run units, e.g. 512Mi, 1Gi)."
  type        = string
  default     = "1Gi"

  validation {
    condition     = can(regex("^[0-9]+(Mi|Gi|M|G)$", var.function_memory))
    error_message = "function_memory must be a size such as 512Mi or 1Gi."
  }
}

variable "function_cpu" {
  description = "vCPUs of one function instance. At least 1 is needed for function_concurrency > 1."
  type        = string
  default     = "1"

  validation {
    condition     = can(regex("^(0\\.[0-9]+|[1-8])$", var.function_cpu))
    error_message = "function_cpu must be a fraction below 1 (e.g. 0.5) or a whole number from 1 to 8."
  }
}

variable "function_concurrency" {
  description = "Concurrent requests one instance serves (the handler is asynchronous; uploads go straight to GCS)."
  type        = number
  default     = 40

  validation {
    condition     = var.function_concurrency >= 1 && var.function_concurrency <= 1000 && floor(var.function_concurrency) == var.function_concurrency
    error_message = "function_concurrency must be a whole number from 1 to 1000."
  }
}

variable "function_timeout_seconds" {
  description = "Request timeout. A commit re-hashes not-yet-verified blobs from the bucket, which takes long for big files."
  type        = number
  default     = 540

  validation {
    condition     = var.function_timeout_seconds >= 10 && var.function_timeout_seconds <= 3600
    error_message = "function_timeout_seconds must be between 10 and 3600."
  }
}

variable "function_min_instances" {
  description = "Instances kept warm. 0 = no cost while idle (a cold start of about 1 s on the first request); 1 removes cold starts for a monthly fee."
  type        = number
  default     = 0

  validation {
    condition     = var.function_min_instances >= 0 && var.function_min_instances <= 100
    error_message = "function_min_instances must be between 0 and 100."
  }
}

variable "function_max_instances" {
  description = "Upper bound on instances: caps cost and the load on Firestore."
  type        = number
  default     = 20

  validation {
    condition     = var.function_max_instances >= 1 && var.function_max_instances <= 1000
    error_message = "function_max_instances must be between 1 and 1000."
  }
}

variable "public_url" {
  description = "Public base URL of the API, used as the target and OIDC audience of Cloud Tasks (STUDIO_PUBLIC_URL). null = the function's deterministic Cloud Run URL https://<function_name>-<project number>.<region>.run.app; set it when a custom domain or load balancer fronts the function."
  type        = string
  default     = null

  validation {
    condition     = var.public_url == null || can(regex("^https://[^/]+$", var.public_url))
    error_message = "public_url must be an https:// origin without a path or trailing slash."
  }
}

variable "max_blob_bytes" {
  description = "Largest blob a plan or commit accepts, in bytes (STUDIO_MAX_BLOB_BYTES; default 100 GiB)."
  type        = number
  default     = 107374182400

  validation {
    condition     = var.max_blob_bytes >= 1 && var.max_blob_bytes <= 5497558138880
    error_message = "max_blob_bytes must be between 1 and 5 TiB (the largest GCS object)."
  }
}

variable "url_ttl_seconds" {
  description = "Lifetime of the signed upload/download URLs the API hands out (STUDIO_URL_TTL_SECONDS)."
  type        = number
  default     = 900

  validation {
    condition     = var.url_ttl_seconds >= 60 && var.url_ttl_seconds <= 604800
    error_message = "url_ttl_seconds must be between 60 (1 minute) and 604800 (7 days, the V4 signing limit)."
  }
}

variable "run_lease_seconds" {
  description = "Lease length of a direct run (STUDIO_RUN_LEASE_SECONDS): a run whose CLI is silent for this long is recorded as lost."
  type        = number
  default     = 60

  validation {
    condition     = var.run_lease_seconds >= 5 && var.run_lease_seconds <= 3600
    error_message = "run_lease_seconds must be between 5 and 3600."
  }
}

variable "job_lease_seconds" {
  description = "Lease length of a queued job (STUDIO_JOB_LEASE_SECONDS): a worker silent for this long loses the job, which goes back to the queue."
  type        = number
  default     = 60

  validation {
    condition     = var.job_lease_seconds >= 5 && var.job_lease_seconds <= 3600
    error_message = "job_lease_seconds must be between 5 and 3600."
  }
}

variable "job_max_attempts" {
  description = "Leases a queued job may take before it is marked lost (STUDIO_JOB_MAX_ATTEMPTS)."
  type        = number
  default     = 3

  validation {
    condition     = var.job_max_attempts >= 1 && var.job_max_attempts <= 20 && floor(var.job_max_attempts) == var.job_max_attempts
    error_message = "job_max_attempts must be an integer from 1 to 20."
  }
}

variable "signing_key_secret_id" {
  description = "Secret Manager secret id (in this project) whose latest version holds a service-account key JSON for local URL signing (STUDIO_SIGNING_KEY_JSON, ~100x faster than IAM signBlob). null = sign through IAM signBlob; no key exists. See docs/security.md."
  type        = string
  default     = null

  validation {
    condition     = var.signing_key_secret_id == null || can(regex("^[a-zA-Z0-9_-]{1,255}$", var.signing_key_secret_id))
    error_message = "signing_key_secret_id must be a secret id (letters, digits, '_' and '-'), not a full resource name."
  }
}

# --- artifact bucket ------------------------------------------------------------------------------------------------

variable "bucket_name" {
  description = "Name of the artifact bucket (globally unique). null = \"<project_id>-<name_prefix>-artifacts\"."
  type        = string
  default     = null

  validation {
    condition     = var.bucket_name == null || (can(regex("^[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]$", var.bucket_name)) && !can(regex("^goog|google", var.bucket_name)))
    error_message = "bucket_name must be 3-63 characters of lowercase letters, digits, '-' and '_', start and end with a letter or digit, and not start with \"goog\" or contain \"google\" (dotted names need domain verification and are not supported here)."
  }
}

variable "bucket_location" {
  description = "Location of the artifact bucket: a region or a multi-region such as US or EU. null = var.region (cheapest, and in the function's region so re-hashing blobs costs no egress)."
  type        = string
  default     = null
}

variable "bucket_force_destroy" {
  description = "Let `terraform destroy` delete the artifact bucket although it holds artifacts. Keep false in production."
  type        = bool
  default     = false
}

variable "abandoned_upload_days" {
  description = "Days after which incomplete multipart uploads are aborted (a client that died mid-upload leaves parts that are billed until then)."
  type        = number
  default     = 1

  validation {
    condition     = var.abandoned_upload_days >= 1 && var.abandoned_upload_days <= 30
    error_message = "abandoned_upload_days must be between 1 and 30."
  }
}

variable "retention_days" {
  description = "Delete stored objects (blobs and manifests) this many days after they were written. null = keep forever. Versions whose blobs were deleted can no longer be pulled: use it only for scratch deployments."
  type        = number
  default     = null

  validation {
    condition     = var.retention_days == null ? true : (var.retention_days >= 1 && var.retention_days <= 36500 && floor(var.retention_days) == var.retention_days)
    error_message = "retention_days must be null or a whole number of days from 1 to 36500."
  }
}

variable "soft_delete_days" {
  description = "Days a deleted object stays recoverable (GCS soft delete, billed as storage). 0 disables soft delete; otherwise 7-90."
  type        = number
  default     = 7

  validation {
    condition     = var.soft_delete_days == 0 || (var.soft_delete_days >= 7 && var.soft_delete_days <= 90)
    error_message = "soft_delete_days must be 0 or between 7 and 90."
  }
}

# --- Firestore ------------------------------------------------------------------------------------------------------

variable "firestore_database" {
  description = "Firestore database id (STUDIO_FIRESTORE_DATABASE). \"(default)\" is the project's default database."
  type        = string
  default     = "(default)"

  validation {
    condition     = var.firestore_database == "(default)" || can(regex("^[a-z][a-z0-9-]{2,61}[a-z0-9]$", var.firestore_database))
    error_message = "firestore_database must be \"(default)\" or 4-63 characters of lowercase letters, digits and hyphens, starting with a letter."
  }
}

variable "create_firestore_database" {
  description = "Create the Firestore database. Set false when the project already has it (e.g. the (default) database exists); the indexes are created either way."
  type        = bool
  default     = true
}

variable "firestore_location" {
  description = "Location of a new Firestore database: a region (e.g. us-central1) or a multi-region (nam5, eur3). null = var.region. Cannot change after creation."
  type        = string
  default     = null
}

variable "firestore_delete_protection" {
  description = "Protect the Firestore database against deletion (also by means other than terraform)."
  type        = bool
  default     = true
}

# --- Cloud Tasks ----------------------------------------------------------------------------------------------------

variable "tasks_queue_name" {
  description = "Name of the Cloud Tasks queue (STUDIO_TASKS_QUEUE). null = \"<name_prefix>-tasks\". A deleted queue's name cannot be reused for 7 days."
  type        = string
  default     = null

  validation {
    condition     = var.tasks_queue_name == null || can(regex("^[a-zA-Z0-9-]{1,100}$", var.tasks_queue_name))
    error_message = "tasks_queue_name must be 1-100 letters, digits or hyphens."
  }
}

variable "tasks_max_attempts" {
  description = "Deliveries of one task before Cloud Tasks gives up (the first attempt included)."
  type        = number
  default     = 10

  validation {
    condition     = var.tasks_max_attempts >= 1 && var.tasks_max_attempts <= 100
    error_message = "tasks_max_attempts must be between 1 and 100."
  }
}

variable "tasks_min_backoff_seconds" {
  description = "Wait before the first retry of a failed task; doubles up to tasks_max_backoff_seconds."
  type        = number
  default     = 5

  validation {
    condition     = var.tasks_min_backoff_seconds >= 1 && var.tasks_min_backoff_seconds <= 3600
    error_message = "tasks_min_backoff_seconds must be between 1 and 3600."
  }
}

variable "tasks_max_backoff_seconds" {
  description = "Longest wait between two retries of a task."
  type        = number
  default     = 600

  validation {
    condition     = var.tasks_max_backoff_seconds >= 1 && var.tasks_max_backoff_seconds <= 3600
    error_message = "tasks_max_backoff_seconds must be between 1 and 3600."
  }
}

variable "tasks_max_dispatches_per_second" {
  description = "Rate at which the queue dispatches tasks to the function."
  type        = number
  default     = 20

  validation {
    condition     = var.tasks_max_dispatches_per_second > 0 && var.tasks_max_dispatches_per_second <= 500
    error_message = "tasks_max_dispatches_per_second must be above 0 and at most 500."
  }
}

variable "tasks_max_concurrent_dispatches" {
  description = "Tasks in flight at once (bounds the function instances that background work can wake)."
  type        = number
  default     = 10

  validation {
    condition     = var.tasks_max_concurrent_dispatches >= 1 && var.tasks_max_concurrent_dispatches <= 5000
    error_message = "tasks_max_concurrent_dispatches must be between 1 and 5000."
  }
}

# --- retention (Cloud Scheduler) -------------------------------------------------------------------------------------

variable "retention_schedule" {
  description = "When Cloud Scheduler applies every team's retention policy (cron, five fields, in retention_time_zone; docs/deploy.md). null = no scheduled run (policies are applied only by `studio-lite retention apply`)."
  type        = string
  default     = "17 3 * * *"

  validation {
    condition     = var.retention_schedule == null || can(regex("^\\S+( \\S+){4}$", var.retention_schedule))
    error_message = "retention_schedule must be null or a cron expression of five fields, e.g. \"17 3 * * *\" (03:17 every day)."
  }
}

variable "retention_time_zone" {
  description = "Time zone of retention_schedule (a tz database name such as Etc/UTC or Europe/Berlin)."
  type        = string
  default     = "Etc/UTC"

  validation {
    condition     = can(regex("^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+)*$", var.retention_time_zone))
    error_message = "retention_time_zone must be a tz database name such as Etc/UTC or America/New_York."
  }
}

# --- sign-in (Identity Platform) ------------------------------------------------------------------------------------

variable "create_identity_platform_config" {
  description = "Initialise Identity Platform in the project. Set false when it is already initialised (Firebase Auth or Identity Platform enabled before); it cannot be deleted once created."
  type        = bool
  default     = true
}

variable "google_oauth_client_id" {
  description = "Client ID of the OAuth client used for Google sign-in (created by hand in the console, see docs/deploy.md). null = Google sign-in is not configured yet; personal access tokens still work."
  type        = string
  default     = null

  validation {
    condition     = var.google_oauth_client_id == null || can(regex("^[0-9]+-[a-z0-9]+\\.apps\\.googleusercontent\\.com$", var.google_oauth_client_id))
    error_message = "google_oauth_client_id must look like 123456789-abc123.apps.googleusercontent.com."
  }
}

variable "google_oauth_client_secret" {
  description = "Secret of that OAuth client. Required when google_oauth_client_id is set. Stored in the terraform state: keep the state in a private bucket."
  type        = string
  default     = null
  sensitive   = true
}

variable "authorized_domains" {
  description = "Extra domains allowed as OAuth redirect targets (e.g. a web page). localhost, used by the CLI's loopback sign-in, is always included."
  type        = list(string)
  default     = []

  validation {
    condition     = alltrue([for d in var.authorized_domains : can(regex("^[a-z0-9.-]+$", d))])
    error_message = "authorized_domains must be bare host names (no scheme, port or path)."
  }
}

variable "create_api_key" {
  description = "Create a browser API key restricted to the Identity Toolkit and Secure Token APIs, which the CLI needs to exchange Google sign-ins for Firebase ID tokens (output auth_api_key)."
  type        = bool
  default     = true
}
