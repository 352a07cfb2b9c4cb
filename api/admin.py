"""API keys for support: which keys an organization has, whose, their scope and last use. Only a
SHA-256 of a key is stored and it is not shown either; support never changes a key (owners revoke)."""

from __future__ import annotations

from django.contrib import admin

from api.models import ApiKey
from cloustral.admin_base import ReadOnlyOrgAdmin


@admin.register(ApiKey)
class ApiKeyAdmin(ReadOnlyOrgAdmin):
    list_display = ["name", "prefix", "kind", "scope", "org", "user", "created_at", "last_used_at", "revoked_at"]
    list_filter = ["kind", "scope"]
    search_fields = ["name", "prefix", "org__name", "org__slug", "user__email"]
    list_select_related = ["org", "user"]
    fields = [
        "org",
        "kind",
        "user",
        "name",
        "scope",
        "prefix",
        "created_by",
        "created_at",
        "expires_at",
        "last_used_at",
        "last_used_ip",
        "revoked_at",
        "revoked_by",
    ]
    readonly_fields = fields
