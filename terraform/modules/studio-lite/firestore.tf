# Firestore in native mode, and the composite indexes the queries need. The list below must equal
# firestore.indexes.json at the repository root (the file the emulators and `firebase deploy` read); a unit test
# compares them.

locals {
  firestore_indexes = [
    {
      collection  = "experiments"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "project", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    },
    # The web UI's experiment filters (status, owner); Firestore merges them with the project index when combined.
    {
      collection  = "experiments"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "status", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    },
    {
      collection  = "experiments"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "owner", order = "ASCENDING" },
        { field_path = "createdAt", order = "DESCENDING" },
      ]
    },
    # Jobs (functions/src/adapters/gcp/firestore-job-store.ts): listQueued, then listJobs by queue / status / both.
    {
      collection  = "jobs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "queue", order = "ASCENDING" },
        { field_path = "status", order = "ASCENDING" },
        { field_path = "queuedAt", order = "ASCENDING" },
      ]
    },
    {
      collection  = "jobs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "queue", order = "ASCENDING" },
        { field_path = "queuedAt", order = "DESCENDING" },
      ]
    },
    {
      collection  = "jobs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "status", order = "ASCENDING" },
        { field_path = "queuedAt", order = "DESCENDING" },
      ]
    },
    {
      collection  = "jobs"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "queue", order = "ASCENDING" },
        { field_path = "status", order = "ASCENDING" },
        { field_path = "queuedAt", order = "DESCENDING" },
      ]
    },
    # Audit log (functions/src/adapters/gcp/firestore-audit-log.ts): one action, newest first.
    {
      collection  = "audit"
      query_scope = "COLLECTION"
      fields = [
        { field_path = "action", order = "ASCENDING" },
        { field_path = "id", order = "DESCENDING" },
      ]
    },
  ]

  # The database name the function is configured with, whether terraform created the database or not.
  firestore_database = var.create_firestore_database ? google_firestore_database.db[0].name : var.firestore_database
}

resource "google_firestore_database" "db" {
  count = var.create_firestore_database ? 1 : 0

  project     = var.project_id
  name        = var.firestore_database
  location_id = local.firestore_location
  type        = "FIRESTORE_NATIVE"

  app_engine_integration_mode = "DISABLED"
  delete_protection_state     = var.firestore_delete_protection ? "DELETE_PROTECTION_ENABLED" : "DELETE_PROTECTION_DISABLED"
  # `terraform destroy` leaves the data in place unless protection was turned off first.
  deletion_policy = var.firestore_delete_protection ? "ABANDON" : "DELETE"

  depends_on = [google_project_service.apis]
}

resource "google_firestore_index" "composite" {
  for_each = {
    for ix in local.firestore_indexes :
    join("-", concat([ix.collection, ix.query_scope], [for f in ix.fields : "${f.field_path}.${f.order}"])) => ix
  }

  project     = var.project_id
  database    = local.firestore_database
  collection  = each.value.collection
  query_scope = each.value.query_scope

  dynamic "fields" {
    for_each = each.value.fields
    content {
      field_path = fields.value.field_path
      order      = fields.value.order
    }
  }

  depends_on = [google_project_service.apis, google_firestore_database.db]
}
