"""The Django admin as the support console: the stock admin site plus the support pages (search, an
organization's page, a person's page, the safe actions), all under ``ADMIN_URL`` and its ``admin``
namespace, so the admin's staff check and the staff MFA check (accounts.middleware) cover them too.

``SupportAdminConfig`` replaces ``django.contrib.admin`` in INSTALLED_APPS to make this the default site.
Nothing here imports a model at import time: the config is loaded while the app registry fills.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.admin.apps import AdminConfig


class SupportAdminSite(admin.AdminSite):
    site_header = "Cloustral support console"
    site_title = "Cloustral support"
    index_title = "Support console"
    index_template = "support/admin_index.html"

    def get_urls(self):
        from support.urls import console_urls

        return console_urls(self) + super().get_urls()


class SupportAdminConfig(AdminConfig):
    default_site = "support.site.SupportAdminSite"
