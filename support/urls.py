"""The support pages, added to the admin site (support.site) in its ``admin`` namespace: each one is
wrapped by ``admin_view`` (staff only; the MFA check in accounts.middleware covers the namespace)."""

from __future__ import annotations

from django.urls import path

from support import views


def console_urls(site) -> list:
    return [
        path("support/", site.admin_view(views.search), name="support_search"),
        path("support/orgs/<int:org_id>/", site.admin_view(views.org_page), name="support_org"),
        path("support/users/<int:user_id>/", site.admin_view(views.user_page), name="support_user"),
        path("support/do/<slug:action>/<int:object_id>/", site.admin_view(views.action), name="support_action"),
    ]
