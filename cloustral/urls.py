from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

from accounts import views as account_views
from orgs import views as org_views

# Staff log in through allauth's login like everyone else (its rate limits, email verification and
# MFA second step); the admin's own password form would bypass them. Staff without MFA are refused by
# accounts.middleware.MFARequiredMiddleware.
admin.site.login = secure_admin_login(admin.site.login)

urlpatterns = [
    path("", org_views.home, name="home"),
    path("healthz", account_views.healthz, name="healthz"),
    path("favicon.ico", RedirectView.as_view(url=f"{settings.STATIC_URL}favicon.svg", permanent=True)),
    path("account/", include("accounts.urls")),
    path("", include("orgs.urls")),  # /o/<org_slug>/... (org-scoped), /orgs/new/, /invitations/<token>/
    path("", include("connections.urls")),  # /o/<org_slug>/connections/...
    path("", include("inventory.urls")),  # scans: /o/<org_slug>/scans/<id>/, a connection's scans and resources
    path("", include("findings.urls")),  # /o/<org_slug>/findings/, /compliance/, /rules/, /policies/
    path("", include("dashboard.urls")),  # /o/<org_slug>/ (home), /inventory/, /resources/<id>/, /map/
    path("", include("privacy.urls")),  # /legal/..., /contact/, /privacy/... (a person's data), /o/<org_slug>/privacy/
    path("", include("api.urls")),  # /api/v1/ (REST API, schema, reference); /o/<org_slug>/api-keys/
    path("", include("billing.urls")),  # /o/<org_slug>/billing/ (plan page), /billing/stripe/webhook/
    path("", include("automations.urls")),  # /o/<org_slug>/automations/, /account/notifications/, /unsubscribe/
    path("accounts/", include("accounts.allauth_urls")),  # the same paths as allauth's, re-authenticated first
    path("accounts/", include("allauth.urls")),
    path(settings.ADMIN_URL, admin.site.urls),
]
