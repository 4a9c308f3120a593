# Sign-in: Identity Platform (Firebase Authentication) with Google as the identity provider. The OAuth client itself
# cannot be created by terraform for external users (Google offers no API for it): create it in the console and pass
# its id and secret (docs/deploy.md). Until then, personal access tokens work and Google sign-in is simply absent.

locals {
  google_sign_in     = var.google_oauth_client_id != null
  authorized_domains = distinct(concat(["localhost"], var.authorized_domains))
}

resource "google_identity_platform_config" "auth" {
  count = var.create_identity_platform_config ? 1 : 0

  project            = var.project_id
  authorized_domains = local.authorized_domains

  depends_on = [google_project_service.apis]
}

resource "google_identity_platform_default_supported_idp_config" "google" {
  count = local.google_sign_in ? 1 : 0

  project       = var.project_id
  idp_id        = "google.com"
  enabled       = true
  client_id     = var.google_oauth_client_id
  client_secret = var.google_oauth_client_secret

  lifecycle {
    precondition {
      condition     = var.google_oauth_client_secret != null
      error_message = "google_oauth_client_secret is required when google_oauth_client_id is set."
    }
  }

  depends_on = [google_project_service.apis, google_identity_platform_config.auth]
}

# The CLI exchanges a Google sign-in for Firebase ID/refresh tokens through the Identity Toolkit and Secure Token REST
# APIs, which take an API key. Such a key identifies the project (it is embedded in clients; it is not a credential),
# and is restricted to those two APIs.
resource "google_apikeys_key" "auth" {
  count = var.create_api_key ? 1 : 0

  project      = var.project_id
  name         = "${var.name_prefix}-auth"
  display_name = "studio-lite sign-in (Identity Toolkit, Secure Token)"

  restrictions {
    api_targets {
      service = "identitytoolkit.googleapis.com"
    }
    api_targets {
      service = "securetoken.googleapis.com"
    }
  }

  depends_on = [google_project_service.apis]
}
